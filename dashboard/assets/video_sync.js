// The night page's video beside its chart (#night-player, when the lake keeps a video of the night):
// a click on the chart or on a flag's "See the video" button seeks the video to that moment, and while the video
// plays (or is moved) a cursor follows it along the chart. The chart's x axis is hours since the night's noon;
// the player's data-offset-hours says where its first second falls on that clock.
(function () {
  "use strict";

  function player() {
    return document.getElementById("night-player");
  }

  function chart() {
    return document.querySelector("#night-figure .js-plotly-plot");
  }

  function seekHours(hours) {
    const video = player();
    if (!video || !isFinite(hours)) {
      return;
    }
    const offset = Number(video.dataset.offsetHours);
    let seconds = (hours - offset) * 3600;
    const length = isFinite(video.duration) ? video.duration : Infinity;
    seconds = Math.max(0, Math.min(seconds, length));
    video.currentTime = seconds;
  }

  function moveCursor() {
    const video = player();
    const gd = chart();
    if (!video || !gd || !gd.layout || !window.Plotly) {
      return;
    }
    const x = Number(video.dataset.offsetHours) + video.currentTime / 3600;
    const shapes = (gd.layout.shapes || []).filter(function (s) {
      return s.name !== "video-cursor";
    });
    shapes.push({
      name: "video-cursor", type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1,
      line: { color: "#222", width: 2 },
    });
    window.Plotly.relayout(gd, { shapes: shapes });
  }

  // timeupdate fires as the video plays and after every seek; it does not bubble, so it is caught on the way down
  document.addEventListener("timeupdate", function (event) {
    if (event.target && event.target.id === "night-player") {
      moveCursor();
    }
  }, true);

  document.addEventListener("click", function (event) {
    const button = event.target && event.target.closest ? event.target.closest("button.seek") : null;
    if (button) {
      seekHours(Number(button.dataset.hours));
      const video = player();
      if (video && video.scrollIntoView) {
        video.scrollIntoView({ block: "nearest" });
      }
    }
  });

  window.sleepmovesVideo = { seekHours: seekHours };
})();
