// An optional enhancement of the gallery: a photo link opens the photo in a
// dialog over the page instead of leaving it. Without this script (or with an
// old browser) every link still opens the full-size JPEG. Esc closes, the
// arrow keys move between the page's photos, and focus returns to the photo
// last shown. No dependencies and no requests beyond the gallery's own images.
(function () {
  "use strict";
  if (typeof HTMLDialogElement !== "function") return;
  const links = Array.from(document.querySelectorAll("a[data-lightbox]"));
  if (links.length === 0) return;

  let current = 0;
  const dialog = document.createElement("dialog");
  dialog.className = "lightbox";
  dialog.setAttribute("aria-label", "Photo viewer");
  const stage = document.createElement("div");
  stage.className = "stage";
  const position = document.createElement("p");
  position.className = "position";
  position.setAttribute("aria-live", "polite");

  function button(className, label, text, action) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = className;
    element.setAttribute("aria-label", label);
    element.textContent = text;
    element.addEventListener("click", action);
    return element;
  }
  const close = button("close", "Close", "\u00d7", function () { dialog.close(); });
  const previous = button("previous", "Previous photo", "\u2039", function () { show(current - 1); });
  const next = button("next", "Next photo", "\u203a", function () { show(current + 1); });
  if (links.length < 2) { previous.hidden = true; next.hidden = true; }
  dialog.append(stage, position, close, previous, next);
  document.body.appendChild(dialog);

  // The page's own <picture>, re-sized for the whole screen: the browser picks
  // the best format and width it already knows, and the placeholder shows meanwhile.
  function large_picture(link) {
    const picture = link.querySelector("picture");
    if (!picture) {
      const image = document.createElement("img");
      image.src = link.getAttribute("href");
      image.alt = "";
      return image;
    }
    const copy = picture.cloneNode(true);
    copy.querySelectorAll("source, img").forEach(function (element) {
      element.setAttribute("sizes", "100vw");
      element.removeAttribute("loading");
    });
    return copy;
  }

  function show(index) {
    current = (index + links.length) % links.length;
    stage.replaceChildren(large_picture(links[current]));
    position.textContent = (current + 1) + " / " + links.length;
  }

  links.forEach(function (link, index) {
    link.addEventListener("click", function (event) {
      // A click meant for a new tab or window stays a plain link.
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      show(index);
      if (!dialog.open) dialog.showModal();
      close.focus();
    });
  });

  dialog.addEventListener("keydown", function (event) {
    if (event.key === "ArrowRight") { show(current + 1); event.preventDefault(); }
    else if (event.key === "ArrowLeft") { show(current - 1); event.preventDefault(); }
  });
  // A click on the dark area around the photo closes, as Esc does (the dialog's own cancel).
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog || event.target === stage) dialog.close();
  });
  dialog.addEventListener("close", function () {
    stage.replaceChildren();
    links[current].focus();
  });
})();
