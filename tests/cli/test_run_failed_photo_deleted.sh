# A photo whose render failed and that is then deleted no longer holds the
# exit status of `run` and `render` at 1, and `status` lists no failure:
# run(1), render(1) and status(1) agree that only the failures of active
# images count.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

sample --out shoot --count 3 --megapixels 1
wsp ingest shoot 2>/dev/null
victim=shoot/IMG_0002.JPG
# Garbage of the same size with the old mtime: ingest sees the file
# unchanged, render cannot decode it.
head -c "$(stat -c %s "$victim")" /dev/urandom >garbage
touch -r "$victim" garbage
cat garbage >"$victim"
touch -r garbage "$victim"
wsp_code run shoot 2>run1.err
expect_eq "$code" 1 "run with a photo that cannot be decoded"
(cd shoot && wsp status) >status1.txt
expect_grep '  IMG_0002.JPG: ' status1.txt "status lists the failure"

rm "$victim"
wsp_code run shoot 2>run2.err
expect_eq "$code" 0 "run once the failed photo is deleted"
expect_eq "$(sql shoot "select status from images where path='IMG_0002.JPG'")" missing "the deleted photo"
wsp_code render shoot 2>render.err
expect_eq "$code" 0 "render once the failed photo is deleted"
(cd shoot && wsp status) >status2.txt
expect_no_grep 'IMG_0002.JPG' status2.txt "status of a project whose failed photo is deleted"
echo ok
