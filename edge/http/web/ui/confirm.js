// Forms with data-confirm ask before they are sent (removing a device, revoking a terminal).
"use strict";
document.addEventListener("submit", (event) => {
  const question = event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
