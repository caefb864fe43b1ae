// The promptship review page. Plain JavaScript, no build step, nothing fetched but this
// server's own /api. Every value from the queue is put into the page with textContent,
// never as markup, so a response holding <script> or HTML is shown as text.
"use strict";

(() => {
  const token = document.querySelector('meta[name="review-token"]').content;
  const $ = (id) => document.getElementById(id);
  let state = null;
  let active = 0;
  let busy = false;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function say(message, isError) {
    const status = $("status");
    status.textContent = message || "";
    status.classList.toggle("error", Boolean(isError));
  }

  async function call(path, body) {
    const init = { headers: { "X-Review-Token": token }, cache: "no-store" };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data;
    try {
      data = await response.json();
    } catch (e) {
      data = { error: "the server answered " + response.status };
    }
    if (!response.ok) throw new Error(data.error || "the server answered " + response.status);
    return data;
  }

  function criteria() {
    return state && state.item ? state.item.rubric.criteria : [];
  }

  function chosen(name) {
    const input = document.querySelector('input[name="c-' + CSS.escape(name) + '"]:checked');
    return input ? input.value : null;
  }

  function setActive(index) {
    const all = criteria();
    if (!all.length) return;
    active = Math.max(0, Math.min(all.length - 1, index));
    document.querySelectorAll("fieldset.criterion").forEach((node, i) => {
      node.classList.toggle("active", i === active);
    });
  }

  function nextUnrated(from) {
    const all = criteria();
    for (let i = from; i < all.length; i += 1) if (chosen(all[i].name) === null) return i;
    for (let i = 0; i < from; i += 1) if (chosen(all[i].name) === null) return i;
    return Math.min(from, all.length - 1);
  }

  function meta(item) {
    const list = $("meta");
    clear(list);
    const rows = [
      [state.kind === "evals" ? "output" : "request", item.item],
      ["prompt", item.prompt],
      ["version", item.version],
      ["environment", item.env],
      ["variant", item.variant || "base"],
      ["release", item.release],
      ["case", item.case],
      ["stratum", item.stratum],
    ];
    for (const [name, value] of rows) {
      if (value === null || value === undefined || value === "") continue;
      list.appendChild(el("dt", name));
      const dd = el("dd", value);
      if (name === state.kind || name === "request" || name === "output") dd.id = "item-id";
      list.appendChild(dd);
    }
  }

  function inputs(item) {
    const body = $("inputs").tBodies[0];
    clear(body);
    const names = Object.keys(item.inputs);
    if (!names.length) {
      const row = body.insertRow();
      const cell = row.insertCell();
      cell.colSpan = 2;
      cell.textContent = "(no inputs)";
    }
    for (const name of names) {
      const row = body.insertRow();
      row.appendChild(el("th", name));
      const value = item.inputs[name];
      row.appendChild(el("td", typeof value === "string" ? value : JSON.stringify(value, null, 2)));
    }
  }

  function prompt(item) {
    const box = $("messages");
    clear(box);
    $("note").hidden = !item.note;
    $("note").textContent = item.note || "";
    const parts = item.messages || (item.text !== null ? [{ role: "prompt", content: item.text }] : []);
    for (const m of parts) {
      const div = el("div", undefined, "message");
      div.appendChild(el("div", m.role, "role"));
      div.appendChild(el("pre", m.content));
      box.appendChild(div);
    }
  }

  function rubric(item, prefill) {
    $("instructions").textContent = item.rubric.instructions || "";
    const box = $("criteria");
    clear(box);
    item.rubric.criteria.forEach((c, index) => {
      const field = el("fieldset", undefined, "criterion");
      field.id = "criterion-" + c.name;
      field.appendChild(el("legend", c.name));
      if (c.guidance) field.appendChild(el("p", c.guidance, "guidance"));
      const options = el("div", undefined, "options");
      c.options.forEach((option, i) => {
        const label = el("label", undefined, c.passing.includes(option) ? "passing" : "");
        const input = document.createElement("input");
        input.type = "radio";
        input.name = "c-" + c.name;
        input.value = option;
        input.checked = Boolean(prefill && prefill.scores[c.name] === option);
        input.addEventListener("change", () => setActive(nextUnrated(index + 1)));
        label.appendChild(input);
        const key = String((i + 1) % 10);
        if (key !== option) label.appendChild(el("kbd", key));
        label.appendChild(document.createTextNode(option));
        options.appendChild(label);
      });
      field.appendChild(options);
      field.addEventListener("click", () => setActive(index));
      box.appendChild(field);
    });
    $("comment").value = prefill ? prefill.comment : "";
    setActive(nextUnrated(0));
  }

  function show(next, message) {
    state = next;
    const p = state.progress;
    const decided = p.rated + p.skipped;
    $("who").textContent = "reviewer " + state.reviewer + " · " + (state.kind === "evals" ? "eval outputs" : "logged requests");
    $("bar").max = Math.max(1, p.total);
    $("bar").value = decided;
    $("counts").textContent = p.rated + " rated, " + p.skipped + " skipped";
    $("undo").disabled = !p.can_undo;
    $("undo-done").disabled = !p.can_undo;
    const item = state.item;
    $("review").hidden = !item;
    $("done").hidden = Boolean(item);
    if (item) {
      $("progress").textContent = decided + 1 + " of " + p.total;
      meta(item);
      inputs(item);
      prompt(item);
      $("response").textContent = item.response;
      rubric(item, state.prefill);
      document.title = "promptship review · " + (decided + 1) + " of " + p.total;
    } else {
      $("progress").textContent = p.total + " of " + p.total;
      $("done-summary").textContent = p.rated + " rated and " + p.skipped + " skipped of " + p.total + " items.";
      document.title = "promptship review · done";
    }
    say(message || "");
  }

  async function act(path, body, message) {
    if (busy) return;
    busy = true;
    document.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      show(await call(path, body), message);
    } catch (e) {
      say(e.message, true);
      if (state) show(state, $("status").textContent);
      say(e.message, true);
    } finally {
      busy = false;
      $("save").disabled = false;
      $("skip").disabled = false;
      if (state) {
        $("undo").disabled = !state.progress.can_undo;
        $("undo-done").disabled = !state.progress.can_undo;
      }
    }
  }

  function save() {
    if (!state || !state.item) return;
    const scores = {};
    const missing = [];
    for (const c of criteria()) {
      const value = chosen(c.name);
      if (value === null) missing.push(c.name);
      else scores[c.name] = value;
    }
    if (missing.length) {
      say("rate every criterion first (missing: " + missing.join(", ") + ")", true);
      setActive(nextUnrated(0));
      return;
    }
    const comment = $("comment").value.trim();
    const item = state.item.item;
    act("/api/verdict", { item, scores, comment: comment || null }, "saved " + item);
  }

  function skip() {
    if (state && state.item) act("/api/skip", { item: state.item.item }, "skipped " + state.item.item);
  }

  function undo() {
    if (state && state.progress.can_undo) act("/api/undo", {}, "undone: the last decision is withdrawn");
  }

  function choose(index) {
    const all = criteria();
    if (!all.length) return;
    const c = all[active];
    if (index >= c.options.length) return;
    const input = document.querySelector('input[name="c-' + CSS.escape(c.name) + '"][value="' + CSS.escape(c.options[index]) + '"]');
    input.checked = true;
    setActive(nextUnrated(active + 1));
  }

  function onKey(event) {
    if (event.altKey || event.metaKey || (event.ctrlKey && event.key !== "Enter")) return;
    const typing = event.target && event.target.id === "comment";
    if (typing) {
      if (event.key === "Escape") event.target.blur();
      if (event.key === "Enter" && event.ctrlKey) { event.preventDefault(); save(); }
      return;
    }
    const key = event.key;
    if (/^[0-9]$/.test(key)) { event.preventDefault(); choose(key === "0" ? 9 : Number(key) - 1); }
    else if (key === "ArrowDown") { event.preventDefault(); setActive(active + 1); }
    else if (key === "ArrowUp") { event.preventDefault(); setActive(active - 1); }
    else if (key === "Enter") { event.preventDefault(); save(); }
    else if (key === "s") { event.preventDefault(); skip(); }
    else if (key === "u") { event.preventDefault(); undo(); }
    else if (key === "c" && state && state.item) { event.preventDefault(); $("comment").focus(); }
  }

  $("rubric").addEventListener("submit", (event) => { event.preventDefault(); save(); });
  $("skip").addEventListener("click", skip);
  $("undo").addEventListener("click", undo);
  $("undo-done").addEventListener("click", undo);
  document.addEventListener("keydown", onKey);
  call("/api/state").then((s) => show(s), (e) => say(e.message, true));
})();
