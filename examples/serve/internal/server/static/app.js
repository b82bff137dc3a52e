// The PRS-Med page: uploads the chosen image and question to /v1/segment and draws the
// returned mask over the image. Nothing leaves this page except to the server itself.
"use strict";

const $ = (id) => document.getElementById(id);

function headers() {
  const h = {};
  const t = sessionStorage.getItem("prsmed-token") || $("token").value.trim();
  if (t) h["Authorization"] = "Bearer " + t;
  return h;
}

function showError(msg) {
  $("error").textContent = msg;
  $("error").hidden = !msg;
}

async function errorText(resp) {
  try {
    const body = await resp.json();
    return body.error.message;
  } catch (e) {
    return resp.status + " " + resp.statusText;
  }
}

async function loadModel() {
  const resp = await fetch("v1/model", { headers: headers() });
  if (resp.status === 401) {
    $("token-row").hidden = false;
    $("model").textContent = "Enter the access token to use the model.";
    return;
  }
  if (!resp.ok) return;
  const m = await resp.json();
  $("model").textContent = `Model: ${m.preset} preset, ${m.image_size} px input, ${m.device} (${m.dtype}); ` +
    `batches of up to ${m.batching.max_batch} gathered for ${m.batching.max_wait_ms} ms.`;
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the browser cannot display this image"));
    img.src = src;
  });
}

// drawOverlay tints the pixels whose mask value is at least 128 red.
async function drawOverlay(file, maskB64) {
  const url = URL.createObjectURL(file);
  let img;
  try {
    img = await loadImage(url);
  } finally {
    URL.revokeObjectURL(url);
  }
  const mask = await loadImage("data:image/png;base64," + maskB64);
  const w = img.naturalWidth, h = img.naturalHeight;
  const c = $("overlay");
  c.width = w;
  c.height = h;
  const ctx = c.getContext("2d");
  ctx.drawImage(img, 0, 0, w, h);
  const base = ctx.getImageData(0, 0, w, h);
  const mc = document.createElement("canvas");
  mc.width = w;
  mc.height = h;
  const mctx = mc.getContext("2d");
  mctx.drawImage(mask, 0, 0, w, h);
  const m = mctx.getImageData(0, 0, w, h).data;
  const d = base.data;
  let fg = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (m[i] >= 128) {
      d[i] = (d[i] + 255) >> 1;
      d[i + 1] >>= 1;
      d[i + 2] >>= 1;
      fg++;
    }
  }
  ctx.putImageData(base, 0, 0);
  c.dataset.foreground = String(fg);
}

async function submit(ev) {
  ev.preventDefault();
  showError("");
  const file = $("file").files[0];
  if (!file) {
    showError("Choose an image first.");
    return;
  }
  const t = $("token").value.trim();
  if (t) sessionStorage.setItem("prsmed-token", t);
  const form = new FormData();
  form.append("question", $("question").value);
  form.append("image", file);
  $("submit").disabled = true;
  $("status").textContent = "Segmenting…";
  try {
    const resp = await fetch("v1/segment", { method: "POST", body: form, headers: headers() });
    if (!resp.ok) {
      if (resp.status === 401) $("token-row").hidden = false;
      throw new Error(await errorText(resp));
    }
    const r = await resp.json();
    await drawOverlay(file, r.mask_png);
    $("answer").textContent = r.answer;
    $("zone").textContent = r.zone_named ? r.zone : "no single zone named";
    $("timing").textContent = `${Math.round(r.timing_ms.total)} ms (model ${Math.round(r.timing_ms.model)} ms, batch of ${r.batch_size})`;
    $("result").hidden = false;
    $("status").textContent = "Done.";
    document.body.dataset.state = "done";
  } catch (e) {
    $("status").textContent = "";
    showError(e.message);
    document.body.dataset.state = "error";
  } finally {
    $("submit").disabled = false;
  }
}

$("form").addEventListener("submit", submit);
loadModel();
