// The Score page's keyboard, as in sleep-scoring software: W / A / Q / T score the epoch under the cursor (and
// move on), the arrows move, N jumps to the next unscored epoch, U to the next one the model is unsure of,
// Delete clears. The page's buttons with data-score-key do the same for a mouse or a phone.
// Keys go to the server one at a time, in order: the next is sent when the page says the last was saved
// (score-done), so a fast scorer never scores one epoch twice or skips one.
(function () {
  "use strict";

  const KEYS = {
    w: "awake", a: "active", q: "quiet", t: "transition",
    ArrowRight: "next", ArrowLeft: "previous", n: "unscored", u: "unsure",
    Delete: "clear", Backspace: "clear",
  };
  const queue = [];
  let busy = false;
  let seq = 0;
  let timer = null;

  function onPage() {
    return document.getElementById("score-page") !== null;
  }

  function pump() {
    if (busy || !queue.length || !window.dash_clientside || !window.dash_clientside.set_props) {
      return;
    }
    busy = true;
    seq += 1;
    window.dash_clientside.set_props("score-key", { data: { key: queue.shift(), seq: seq } });
    clearTimeout(timer);
    // an answer that never comes (the server stopped) drops the keys waiting: sending them on a cursor the page
    // has not been told about would score the wrong epochs
    timer = setTimeout(function () { queue.length = 0; busy = false; }, 30000);
  }

  function send(key) {
    queue.push(key);
    pump();
  }

  window.sleepmovesScore = {
    done: function () {
      clearTimeout(timer);
      busy = false;
      pump();
    },
  };

  document.addEventListener("keydown", function (event) {
    if (!onPage() || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    const target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) {
      return;  // typing a name or choosing a night is not scoring
    }
    const key = KEYS[event.key.length === 1 ? event.key.toLowerCase() : event.key];
    if (key) {
      event.preventDefault();
      send(key);
    }
  });

  document.addEventListener("click", function (event) {
    const button = event.target && event.target.closest ? event.target.closest("button[data-score-key]") : null;
    if (button && onPage()) {
      send(button.dataset.scoreKey);
    }
  });
})();
