# Faces and eyes through the whole tool, on a real photograph of a person from
# Debian: scikit-image's public-domain portrait of astronaut Eileen Collins
# (python3-skimage), read where the package puts it. Her face is found with
# her eyes open, and with no timeline the face makes the photo a portrait;
# `config show` says whether faces are on; with tagging.faces: off the photo is
# tagged again without them and the lens-free heuristics answer.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"
require vips "make the JPEG (libvips-tools)"
astronaut=/usr/lib/python3/dist-packages/skimage/data/astronaut.png
model=/usr/share/dlib/shape_predictor_68_face_landmarks.dat
[ -f "$astronaut" ] || unavailable "$astronaut (python3-skimage) is needed as a photo of a person"
[ -f "$model" ] || unavailable "$model (libdlib-data) is needed to find faces"

mkdir shoot
vips copy "$astronaut" shoot/astronaut.jpg
cd shoot
wsp config show >../config.txt
expect_grep "tagging.faces = auto (on" ../config.txt "config show says faces are on"
wsp run 2>../run.err || { cat ../run.err >&2; fail "run failed"; }
wsp --json tag show >../show.jsonl 2>/dev/null
wsp status >../status.txt 2>/dev/null
cd ..
value() { jq -r "select(.event == \"tag.show\" and .file == \"astronaut.jpg\") | .$1" show.jsonl; }
expect_eq "$(value faces)" 1 "her face is found"
expect_eq "$(value eyes_closed)" false "her eyes are open"
expect_eq "$(value scene)" portrait "one large face and no timeline: a portrait"
expect_eq "$(value basis)" heuristic "the scene is a guess"
expect_eq "$(value 'keywords | index("eyes closed") == null')" true "no closed-eyes keyword"
expect_grep "0 with closed eyes" status.txt "status counts closed eyes"

cd shoot
printf 'tagging: { faces: off }\n' >wsportfolio.yaml
wsp config show >../config-off.txt
expect_grep "tagging.faces = off" ../config-off.txt "config show says faces are off"
wsp tag 2>../tag.err || { cat ../tag.err >&2; fail "tag failed"; }
wsp --json tag show >../show.jsonl 2>/dev/null
cd ..
expect_eq "$(value faces)" null "no faces looked for with tagging.faces: off"
expect_eq "$(value scene)" candid "without faces nothing points to a portrait"
echo ok
