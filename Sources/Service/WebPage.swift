/// The page at `/`: one self-contained HTML document (inline CSS and JS, nothing fetched
/// from elsewhere) that talks to the JSON API: pick a collection, upload an image or click a
/// stored one, see the top-k hits as thumbnails with scores and labels and, when the
/// collection has a classifier, its prediction. With a token configured, the page asks for
/// it once (kept in sessionStorage) and sends it with every call, thumbnails included.
enum WebPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>cnncodes</title>
        <style>
          :root { --fg: #1d2330; --muted: #667085; --line: #d9dde5; --accent: #2f6fdf; --bg: #f6f7f9; }
          * { box-sizing: border-box; }
          body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
          header { display: flex; gap: 16px; align-items: center; padding: 10px 18px; background: #fff; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
          header h1 { font-size: 18px; margin: 0 8px 0 0; }
          header .info { color: var(--muted); font-size: 12px; }
          main { display: grid; grid-template-columns: 360px 1fr; gap: 16px; padding: 16px 18px; }
          section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin-bottom: 16px; }
          h2 { font-size: 14px; margin: 0 0 10px; }
          label { font-size: 12px; color: var(--muted); }
          select, input[type=number], input[type=text], input[type=password] { font: inherit; padding: 4px 6px; border: 1px solid var(--line); border-radius: 4px; }
          .row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; }
          .drop { border: 2px dashed var(--line); border-radius: 8px; padding: 18px; text-align: center; color: var(--muted); cursor: pointer; }
          .drop.over { border-color: var(--accent); color: var(--accent); }
          .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(64px, 1fr)); gap: 6px; }
          .grid img { width: 100%; aspect-ratio: 1; object-fit: cover; border-radius: 4px; cursor: pointer; background: #eee; border: 2px solid transparent; }
          .grid img.selected { border-color: var(--accent); }
          .results { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); gap: 12px; }
          .hit { border: 1px solid var(--line); border-radius: 6px; overflow: hidden; background: #fff; cursor: pointer; }
          .hit img { width: 100%; aspect-ratio: 1; object-fit: cover; display: block; background: #eee; }
          img[data-state=missing] { opacity: 0.3; }
          .hit .meta { padding: 6px 8px; font-size: 12px; }
          .hit .score { font-variant-numeric: tabular-nums; font-weight: 600; }
          .hit .lab { color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
          .query { display: flex; gap: 14px; align-items: flex-start; }
          .query img { width: 120px; height: 120px; object-fit: cover; border-radius: 6px; background: #eee; }
          .prediction { font-size: 13px; }
          .prediction b { font-size: 16px; }
          .bar { height: 6px; background: var(--accent); border-radius: 3px; margin: 2px 0 6px; }
          .status { color: var(--muted); font-size: 12px; min-height: 18px; }
          .status.error { color: #b42318; }
          button { font: inherit; padding: 4px 10px; border: 1px solid var(--line); background: #fff; border-radius: 4px; cursor: pointer; }
          #tokenBox { display: none; }
        </style>
        </head>
        <body>
        <header>
          <h1>cnncodes</h1>
          <label for="collection">collection</label>
          <select id="collection"></select>
          <span class="info" id="collectionInfo"></span>
          <span id="tokenBox"><input id="token" type="password" placeholder="bearer token"> <button id="tokenSave">use token</button></span>
        </header>
        <main>
          <div>
            <section>
              <h2>Query</h2>
              <div class="drop" id="drop">Drop an image here or click to upload<input id="file" type="file" accept="image/jpeg,image/png" hidden></div>
              <div class="row" style="margin-top:10px">
                <label>k <input id="k" type="number" min="1" max="100" value="12" style="width:60px"></label>
                <label>metric <select id="metric"><option>cosine</option><option value="ip">inner product</option><option value="l2">L2</option></select></label>
                <label><input id="exact" type="checkbox"> exact</label>
              </div>
              <div class="row">
                <label>label <select id="label"><option value="">any</option></select></label>
                <label>split <select id="split"><option value="">any</option></select></label>
              </div>
              <div class="row">
                <label>classifier <select id="classifier"><option value="">none</option></select></label>
              </div>
            </section>
            <section>
              <h2>Stored images <span class="info" id="storedInfo"></span></h2>
              <div class="grid" id="stored"></div>
              <div class="row" style="margin-top:8px"><button id="prev">&larr;</button><button id="next">&rarr;</button></div>
            </section>
          </div>
          <div>
            <section>
              <div class="query">
                <img id="queryImage" alt="">
                <div>
                  <h2 id="queryTitle">Pick a stored image or upload one</h2>
                  <div class="prediction" id="prediction"></div>
                </div>
              </div>
              <div class="status" id="status"></div>
            </section>
            <section>
              <h2>Top matches <span class="info" id="resultInfo"></span></h2>
              <div class="results" id="results"></div>
            </section>
          </div>
        </main>
        <script>
        "use strict";
        const $ = (id) => document.getElementById(id);
        const state = { token: sessionStorage.getItem("cnncodes-token") || "", detail: null, offset: 0, pageSize: 24, selected: null };

        function setStatus(text, isError) {
          $("status").textContent = text || "";
          $("status").className = "status" + (isError ? " error" : "");
        }

        function headers(extra) {
          const h = Object.assign({}, extra || {});
          if (state.token) h["Authorization"] = "Bearer " + state.token;
          return h;
        }

        async function api(path, options) {
          options = options || {};
          const response = await fetch(path, Object.assign({}, options, { headers: headers(options.headers) }));
          if (response.status === 401) {
            $("tokenBox").style.display = "inline";
            throw new Error("this server needs a token: enter it above");
          }
          const body = await response.json().catch(() => null);
          if (!response.ok) throw new Error(body && body.error ? body.error.message : response.status + " " + response.statusText);
          return body;
        }

        // Thumbnails come from /v1/images/{id}/file; with a token they are fetched with the
        // header and shown through an object URL (an <img src> cannot send headers).
        // data-state records whether the thumbnail arrived ("loaded") or not ("missing",
        // shown faded): a glance, or a DOM dump in a test, tells a broken file route.
        function thumbnail(img, id) {
          const url = "/v1/images/" + encodeURIComponent(id) + "/file";
          img.onload = () => { img.dataset.state = "loaded"; };
          img.onerror = () => { img.dataset.state = "missing"; };
          if (!state.token) { img.src = url; return; }
          fetch(url, { headers: headers() }).then((r) => r.ok ? r.blob() : null).then((blob) => {
            if (blob) img.src = URL.createObjectURL(blob); else img.dataset.state = "missing";
          });
        }

        function fillSelect(select, values, first) {
          select.innerHTML = "";
          if (first !== undefined) { const o = document.createElement("option"); o.value = ""; o.textContent = first; select.appendChild(o); }
          for (const v of values) { const o = document.createElement("option"); o.value = v; o.textContent = v; select.appendChild(o); }
        }

        async function loadCollections() {
          try {
            const list = await api("/v1/collections");
            fillSelect($("collection"), list.collections.map((c) => c.name));
            if (list.collections.length === 0) { setStatus("this store has no collections yet"); return; }
            await loadCollection(list.collections[0].name);
          } catch (e) { setStatus(e.message, true); }
        }

        async function loadCollection(name) {
          const detail = await api("/v1/collections/" + encodeURIComponent(name));
          state.detail = detail;
          state.offset = 0;
          const p = detail.provenance;
          $("collectionInfo").textContent = detail.count + " codes × " + detail.dim + " · layer " + p.layer + " · " + p.pooling + " pooling" + (detail.hnswIndex.length ? " · HNSW (" + detail.hnswIndex.join(", ") + ")" : " · exact search");
          fillSelect($("label"), Object.keys(detail.labels).filter((l) => l !== "").sort(), "any");
          fillSelect($("split"), Object.keys(detail.splits).filter((s) => s !== "").sort(), "any");
          fillSelect($("classifier"), detail.classifiers, "none");
          if (detail.classifiers.length > 0) $("classifier").value = detail.classifiers[0];
          $("drop").style.opacity = detail.acceptsImages ? "1" : "0.5";
          $("drop").title = detail.acceptsImages ? "" : "this server cannot extract codes from uploads";
          await loadStored();
        }

        async function loadStored() {
          const d = state.detail;
          const q = new URLSearchParams({ offset: state.offset, limit: state.pageSize });
          if ($("label").value) q.set("label", $("label").value);
          if ($("split").value) q.set("split", $("split").value);
          const page = await api("/v1/collections/" + encodeURIComponent(d.name) + "/images?" + q);
          $("storedInfo").textContent = page.total ? (page.offset + 1) + "–" + (page.offset + page.images.length) + " of " + page.total : "none";
          const grid = $("stored");
          grid.innerHTML = "";
          for (const image of page.images) {
            const img = document.createElement("img");
            img.alt = image.label || image.path;
            img.title = "#" + image.id + " " + (image.label || "") + " " + image.path;
            img.dataset.id = image.id;
            if (state.selected === image.id) img.classList.add("selected");
            thumbnail(img, image.id);
            img.onclick = () => searchStored(image.id, image.label);
            grid.appendChild(img);
          }
          $("prev").disabled = state.offset === 0;
          $("next").disabled = state.offset + page.images.length >= page.total;
        }

        function searchOptions() {
          const filter = {};
          if ($("label").value) filter.label = $("label").value;
          if ($("split").value) filter.split = $("split").value;
          return { k: Math.max(1, Math.min(100, parseInt($("k").value, 10) || 12)), metric: $("metric").value, filter: filter, exact: $("exact").checked };
        }

        async function searchStored(id, label) {
          state.selected = id;
          for (const img of $("stored").querySelectorAll("img")) img.classList.toggle("selected", img.dataset.id === String(id));
          thumbnail($("queryImage"), id);
          $("queryTitle").textContent = "Stored image #" + id + (label ? " (" + label + ")" : "");
          setStatus("searching…");
          const name = state.detail.name;
          try {
            const body = Object.assign({ id: id }, searchOptions());
            const started = performance.now();
            const result = await api("/v1/collections/" + encodeURIComponent(name) + "/search", {
              method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
            showResults(result, performance.now() - started);
            const classifier = $("classifier").value;
            if (classifier) showPrediction(await api("/v1/classifiers/" + encodeURIComponent(classifier) + "/classify/" + id));
            else $("prediction").innerHTML = "";
            setStatus("");
          } catch (e) { setStatus(e.message, true); }
        }

        async function searchUpload(file) {
          if (!state.detail) return;
          $("queryImage").src = URL.createObjectURL(file);
          $("queryTitle").textContent = "Uploaded " + file.name;
          state.selected = null;
          setStatus("extracting and searching…");
          const o = searchOptions();
          const q = new URLSearchParams({ k: o.k, metric: o.metric, exact: o.exact, filename: file.name });
          if (o.filter.label) q.set("label", o.filter.label);
          if (o.filter.split) q.set("split", o.filter.split);
          try {
            const started = performance.now();
            const result = await api("/v1/collections/" + encodeURIComponent(state.detail.name) + "/search/image?" + q, {
              method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file });
            showResults(result, performance.now() - started);
            const classifier = $("classifier").value;
            if (classifier) showPrediction(await api("/v1/classifiers/" + encodeURIComponent(classifier) + "/classify?filename=" + encodeURIComponent(file.name), {
              method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file }));
            else $("prediction").innerHTML = "";
            setStatus("");
          } catch (e) { setStatus(e.message, true); $("results").innerHTML = ""; }
        }

        function showResults(result, ms) {
          $("resultInfo").textContent = result.hits.length + " of " + result.searched + " by " + result.metric + " (" + result.method + ", " + ms.toFixed(0) + " ms)";
          const box = $("results");
          box.innerHTML = "";
          for (const hit of result.hits) {
            const card = document.createElement("div");
            card.className = "hit";
            const img = document.createElement("img");
            img.alt = hit.label || "";
            thumbnail(img, hit.id);
            const meta = document.createElement("div");
            meta.className = "meta";
            const score = document.createElement("div");
            score.className = "score";
            score.textContent = hit.score.toFixed(4) + (hit.id === result.queryID ? " · query" : "");
            const lab = document.createElement("div");
            lab.className = "lab";
            lab.textContent = (hit.label || "unlabelled") + (hit.split ? " · " + hit.split : "") + " · #" + hit.id;
            lab.title = hit.path || "";
            meta.append(score, lab);
            card.append(img, meta);
            card.onclick = () => searchStored(hit.id, hit.label);
            box.appendChild(card);
          }
        }

        function showPrediction(answer) {
          const box = $("prediction");
          box.innerHTML = "";
          const head = document.createElement("div");
          head.innerHTML = "classifier <i></i>: <b></b>";
          head.querySelector("i").textContent = answer.classifier + " (" + answer.kind + ")";
          head.querySelector("b").textContent = answer.label;
          box.appendChild(head);
          for (const s of answer.scores.slice(0, 3)) {
            const line = document.createElement("div");
            const value = s.probability !== undefined && s.probability !== null ? (100 * s.probability).toFixed(1) + "%" : s.score.toFixed(3);
            line.textContent = s.label + " " + value;
            const bar = document.createElement("div");
            bar.className = "bar";
            const width = s.probability !== undefined && s.probability !== null ? s.probability : Math.max(0, Math.min(1, 0.5 + s.score / 4));
            bar.style.width = (width * 200).toFixed(0) + "px";
            box.append(line, bar);
          }
        }

        $("collection").onchange = (e) => loadCollection(e.target.value).catch((err) => setStatus(err.message, true));
        $("label").onchange = $("split").onchange = () => { state.offset = 0; loadStored().catch((e) => setStatus(e.message, true)); };
        $("prev").onclick = () => { state.offset = Math.max(0, state.offset - state.pageSize); loadStored(); };
        $("next").onclick = () => { state.offset += state.pageSize; loadStored(); };
        $("drop").onclick = () => $("file").click();
        $("file").onchange = (e) => { if (e.target.files[0]) searchUpload(e.target.files[0]); };
        $("drop").ondragover = (e) => { e.preventDefault(); $("drop").classList.add("over"); };
        $("drop").ondragleave = () => $("drop").classList.remove("over");
        $("drop").ondrop = (e) => { e.preventDefault(); $("drop").classList.remove("over"); if (e.dataTransfer.files[0]) searchUpload(e.dataTransfer.files[0]); };
        $("tokenSave").onclick = () => { state.token = $("token").value; sessionStorage.setItem("cnncodes-token", state.token); $("tokenBox").style.display = "none"; loadCollections(); };

        // ?query=<id> searches that stored image on load (used by the screenshot script).
        loadCollections().then(() => {
          const query = new URLSearchParams(location.search).get("query");
          if (query && state.detail) searchStored(parseInt(query, 10));
        });
        </script>
        </body>
        </html>
        """#
}
