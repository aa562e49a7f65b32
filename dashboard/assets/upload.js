// The Data page's drop zone (#upload): the chosen or dropped file is sent as it is, straight from disk, as the
// body of POST /upload (no base64 copy in the page, no JSON on the server). The server streams it to the lake's
// folder and answers a token, which goes to the "upload-accepted" store: the page's callback ingests that file.
// (The zone's own reader never reads a file: its max_size is 1 byte.)
(function () {
  "use strict";

  function size(n) {
    if (n >= 1073741824) {
      return (n / 1073741824).toFixed(2) + " GB";
    }
    return n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : n + " bytes";
  }

  function say(id, props) {
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(id, props);
    }
  }

  async function send(file, input) {
    const config = document.getElementById("upload-config");
    if (!file || !config) {
      return;
    }
    const limit = Number(config.dataset.limit);
    say("upload-result", { children: "" });
    if (file.size > limit) {
      // checked here first, so a too-large file is never sent (the server checks again)
      say("upload-refused", {
        children: file.name + " is " + size(file.size) + ": files up to " + size(limit) +
          " can be added here (the limit is set with sleepmoves serve --max-upload-mb).",
      });
      if (input) input.value = "";
      return;
    }
    say("upload-refused", { children: "" });
    say("upload-progress", { children: "Sending " + file.name + " (" + size(file.size) + ") …" });
    // XMLHttpRequest rather than fetch: it reports how much of a large file (a night of video) is sent
    const answer = await new Promise(function (resolve) {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", config.dataset.url + "?name=" + encodeURIComponent(file.name));
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.withCredentials = true;
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable && event.total > 0) {
          const percent = Math.floor((100 * event.loaded) / event.total);
          say("upload-progress", {
            children: "Sending " + file.name + ": " + percent + " % of " + size(event.total),
          });
        }
      };
      xhr.onload = function () {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch (error) {
          resolve({ error: file.name + ": the server refused it (" + xhr.status + ")" });
        }
      };
      xhr.onerror = function () {
        resolve({ error: file.name + ": the upload was cut off; try again" });
      };
      xhr.send(file);
    });
    say("upload-progress", { children: "" });
    if (input) input.value = "";
    if (answer.error) {
      say("upload-refused", { children: answer.error });
    } else {
      say("upload-accepted", { data: { token: answer.token, filename: answer.filename, at: Date.now() } });
    }
  }

  function inZone(node) {
    return node && node.closest ? node.closest("#upload") : null;
  }

  document.addEventListener("change", function (event) {
    const input = event.target;
    if (inZone(input) && input.files && input.files.length) {
      send(input.files[0], input);
    }
  }, true);

  document.addEventListener("drop", function (event) {
    const files = event.dataTransfer && event.dataTransfer.files;
    if (inZone(event.target) && files && files.length) {
      send(files[0], null);
    }
  }, true);
})();
