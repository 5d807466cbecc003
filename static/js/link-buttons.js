// Links that look like buttons are announced as buttons (role="button"), and a button acts on
// Space as well as Enter: so do these links, for people who use the keyboard.
(function () {
  "use strict";

  document.addEventListener("keydown", function (event) {
    if (event.key !== " " || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    var target = event.target;
    if (target instanceof HTMLAnchorElement && target.getAttribute("role") === "button") {
      event.preventDefault(); // not a scroll of the page
      target.click();
    }
  });
})();
