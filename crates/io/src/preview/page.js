// The preview page: fetches the project's snapshot, draws it, and follows
// its changes (Server-Sent Events on /events, which send its version).
"use strict";

let version = 0;

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
};

const imageUrl = (post, format) =>
  `/image/${format}/${post.id.split("/").map(encodeURIComponent).join("/")}.png?v=${post.hash}`;

// Caption as the network shows it: cut at its fold with « … voir plus »,
// hashtags and links highlighted.
function caption(text, fold) {
  const shown = Array.from(text);
  const cut = shown.length > fold;
  const visible = cut ? shown.slice(0, fold).join("") : text;
  const node = el("p", { class: "text" });
  const pattern = /(#[\p{L}\p{N}_]+|https?:\/\/\S+)/gu;
  let last = 0;
  for (const match of visible.matchAll(pattern)) {
    node.append(visible.slice(last, match.index));
    const isTag = match[0].startsWith("#");
    node.append(el("span", { class: isTag ? "tag" : "link", text: match[0] }));
    last = match.index + match[0].length;
  }
  node.append(visible.slice(last));
  if (cut) node.append(el("span", { class: "more", text: "… voir plus" }));
  return node;
}

/** "1 erreur", "2 erreurs", "0 erreur": French counts, the singular up to one. */
function counted(n, word) {
  return `${n} ${word}${n > 1 ? "s" : ""}`;
}

function drawProblems(snapshot) {
  const box = document.getElementById("problems");
  box.replaceChildren();
  const count = document.getElementById("problem-count");
  const errors = snapshot.problems.filter((p) => p.severity === "error").length;
  count.textContent = String(snapshot.problems.length);
  count.className = "count" + (snapshot.problems.length ? "" : " zero");
  if (!snapshot.problems.length) {
    box.append(el("p", { class: "none", text: "Aucun problème : tout est prêt." }));
    return;
  }
  box.append(el("p", { text: `${counted(errors, "erreur")}, ${counted(snapshot.problems.length - errors, "avertissement")}.` }));
  for (const problem of snapshot.problems) {
    box.append(
      el("div", { class: `problem ${problem.severity}` },
        el("strong", { text: problem.severity === "error" ? "Erreur : " : "Avertissement : " }),
        problem.message,
        el("br"),
        el("code", { text: `${problem.path}:${problem.line}:${problem.column}` }),
        problem.hint ? el("p", { class: "hint", text: `Aide : ${problem.hint}` }) : null));
  }
}

// Channels, each linked to the post's public address once it is sent.
function channelsCell(entry) {
  const cell = el("td");
  if (!entry.channels.length) {
    cell.textContent = "—";
    return cell;
  }
  entry.channels.forEach((channel, index) => {
    if (index > 0) cell.append(", ");
    const link = (entry.links || []).find((l) => l.channel === channel);
    const safe = link && /^https?:\/\//.test(link.url);
    cell.append(safe
      ? el("a", { href: link.url, rel: "noopener noreferrer", target: "_blank", text: channel, title: `Voir le post publié sur ${channel}` })
      : channel);
  });
  return cell;
}

function drawCalendar(snapshot) {
  const labels = { planned: "prévu", sent: "publié", empty: "créneau vide", blocked: "bloqué : à corriger" };
  const body = el("tbody");
  for (const entry of snapshot.calendar) {
    body.append(
      el("tr", { class: entry.state },
        el("td", { text: entry.when }),
        el("td", { text: entry.series || "—" }),
        el("td", { text: entry.post || "aucun post" }),
        channelsCell(entry),
        el("td", {}, el("span", { class: `badge ${entry.state}`, text: labels[entry.state] }))));
  }
  const table = el("table", {},
    el("caption", { class: "sr-only", text: "Posts prévus, bloqués, publiés et créneaux vides" }),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col", text: "Date" }), el("th", { scope: "col", text: "Série" }),
      el("th", { scope: "col", text: "Post" }), el("th", { scope: "col", text: "Canaux" }),
      el("th", { scope: "col", text: "État" }))),
    body);
  document.getElementById("calendar").replaceChildren(table);
}

function drawPost(post, brand) {
  const gallery = el("div", { class: "gallery" });
  for (const format of post.formats) {
    const contrast = (post.contrast || []).find((c) => c.format === format);
    const reading = contrast
      ? el("span", {
          class: "contrast" + (contrast.passes ? " ok" : " fail"),
          text: contrast.passes
            ? `contraste ${contrast.ratio} ✓`
            : `contraste ${contrast.ratio} ✗ (${contrast.required} au moins)`,
        })
      : null;
    gallery.append(el("figure", {},
      el("img", { src: imageUrl(post, format), alt: post.alt, "data-post": post.id }),
      el("figcaption", {}, el("span", { text: format }), reading ? " · " : null, reading)));
  }
  const mockups = el("div", { class: "mockups" });
  for (const channel of post.channels) {
    const over = channel.length > channel.limit;
    mockups.append(
      el("article", { class: `mock ${channel.network}`, "aria-label": `${post.id} sur ${channel.network_name}` },
        el("div", { class: "who" },
          el("img", { src: "/logo.png", alt: "" }),
          el("div", {}, el("strong", { text: brand }), el("span", { text: post.when || "non planifié" })),
          el("span", { class: "network", text: channel.network_name })),
        channel.network === "instagram" && channel.format
          ? el("img", { class: "picture", src: imageUrl(post, channel.format), alt: post.alt }) : null,
        caption(channel.text, channel.fold),
        channel.network !== "instagram" && channel.format
          ? el("img", { class: "picture", src: imageUrl(post, channel.format), alt: post.alt }) : null,
        el("p", { class: "length" + (over ? " over" : ""),
          text: `${channel.length} / ${channel.limit.toLocaleString("fr-FR")} ${channel.unit}${over ? " : trop long" : ""}` })));
  }
  return el("article", { class: "post", id: `post-${post.id}`, "data-hash": post.hash },
    el("header", {},
      el("h3", { text: post.id }),
      el("span", { class: "meta", text: post.path }),
      post.draft ? el("span", { class: "badge draft", text: "brouillon" }) : null,
      el("span", { class: "meta", text: post.when ? `Prévu : ${post.when}` : "Non planifié" })),
    gallery,
    mockups);
}

function drawPosts(snapshot) {
  const list = document.getElementById("post-list");
  const existing = new Map([...list.children].map((node) => [node.id, node]));
  const next = snapshot.posts.map((post) => {
    const old = existing.get(`post-${post.id}`);
    // Unchanged posts keep their nodes, so their images are not reloaded.
    return old && old.dataset.hash === post.hash ? old : drawPost(post, snapshot.brand);
  });
  list.replaceChildren(...next);
}

async function refresh() {
  const response = await fetch("/api/state", { cache: "no-store" });
  const snapshot = await response.json();
  version = snapshot.version;
  document.getElementById("brand").textContent = snapshot.brand;
  drawProblems(snapshot);
  drawCalendar(snapshot);
  drawPosts(snapshot);
  document.getElementById("live").textContent = "À jour";
  document.body.dataset.version = String(version);
}

// The newest version announced, and whether a refresh is under way: the
// announcements that come meanwhile are folded into the next one.
let wanted = 0;
let refreshing = false;

async function follow(latest) {
  wanted = Math.max(wanted, latest);
  if (refreshing) return;
  refreshing = true;
  try {
    while (wanted > version) await refresh();
  } catch (error) {
    document.getElementById("live").textContent = "Hors ligne : nouvel essai…";
  } finally {
    refreshing = false;
  }
}

function listen() {
  const events = new EventSource("/events");
  events.addEventListener("version", (event) => follow(Number(event.data)));
  // The browser reconnects by itself; the server then sends its version.
  events.addEventListener("error", () => {
    document.getElementById("live").textContent = "Hors ligne : nouvel essai…";
  });
  events.addEventListener("open", () => {
    document.getElementById("live").textContent = "À jour";
  });
}

// Images first: the event stream holds one of the browser's few
// connections to the server, and should not queue images behind it.
function imagesLoaded(timeout) {
  const pending = [...document.images].filter((img) => !img.complete);
  const loads = pending.map((img) => new Promise((resolve) => {
    img.addEventListener("load", resolve, { once: true });
    img.addEventListener("error", resolve, { once: true });
  }));
  return Promise.race([Promise.all(loads), new Promise((resolve) => setTimeout(resolve, timeout))]);
}

refresh().then(() => imagesLoaded(5000)).then(listen);
