document.querySelectorAll("time[datetime]").forEach(function (element) {
  var when = new Date(element.getAttribute("datetime"));
  if (isNaN(when.getTime())) { return; }
  element.title = element.textContent;
  element.textContent = when.toLocaleString(undefined, {
    weekday: "short", day: "numeric", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });
  element.classList.add("local");
});
