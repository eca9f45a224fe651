// hmrflow's WebGL helpers, shared by the mesh viewer and the animation player: written once here
// and inlined into each page when the page is written (hmrflow.render.animation_page.html_template),
// so a page stays one self-contained file. Plain ES5 and WebGL 1, no library. Part of hmrflow
// (BSD-3-Clause). Matrices are column-major arrays of 16 numbers, as WebGL takes them.

// The page's start: its embedded JSON (the script element of id dataId) as data, its canvas (#view)
// and its message element (#message); the page's title and heading (#title) become data.title.
function openPage(dataId) {
  var data = JSON.parse(document.getElementById(dataId).textContent);
  document.getElementById("title").textContent = data.title;
  document.title = data.title;
  return { data: data, canvas: document.getElementById("view"), message: document.getElementById("message") };
}

// The bytes of the base64 string text, as an ArrayBuffer.
function base64Bytes(text) {
  var binary = atob(text), bytes = new Uint8Array(binary.length);
  for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

// A WebGL 1 context on canvas (its drawing buffer kept, for screenshots), or null after
// writing missing into the message element and warning on the console.
function openWebgl(canvas, message, missing, warning) {
  var gl = canvas.getContext("webgl", { alpha: false, antialias: true, preserveDrawingBuffer: true });
  if (!gl) {
    message.textContent = missing;
    console.warn(warning);
  }
  return gl;
}

// The element index type of a mesh with 32-bit (wide) or 16-bit indices, or null after writing
// into the message element that this browser lacks 32-bit indices.
function elementIndexType(gl, wide, message) {
  if (!wide) return gl.UNSIGNED_SHORT;
  if (gl.getExtension("OES_element_index_uint")) return gl.UNSIGNED_INT;
  message.textContent = "This mesh needs 32-bit indices, which this browser lacks.";
  return null;
}

// A compiled shader of type (gl.VERTEX_SHADER or gl.FRAGMENT_SHADER); throws the compiler's log.
function compileShader(gl, type, source) {
  var shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(shader));
  return shader;
}

// The linked program of a vertex and a fragment shader's sources; throws the linker's log.
function linkProgram(gl, vertexSource, fragmentSource) {
  var program = gl.createProgram();
  gl.attachShader(program, compileShader(gl, gl.VERTEX_SHADER, vertexSource));
  gl.attachShader(program, compileShader(gl, gl.FRAGMENT_SHADER, fragmentSource));
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(program));
  return program;
}

// GLSL for fragment shaders: shade(normal, position, color), the lit colour of a surface point
// (position and normal in view space): two-sided (the normal turned to the eye), a key and a fill
// light fixed to the camera, ambient, and a small highlight.
var SHADE_GLSL =
  "vec3 shade(vec3 normal, vec3 position, vec3 color) {" +
  "  vec3 n = normalize(normal); vec3 v = normalize(-position); if (dot(n, v) < 0.0) n = -n;" +
  "  vec3 key = normalize(vec3(0.4, 0.7, 0.6)); vec3 fill = normalize(vec3(-0.6, 0.1, 0.4));" +
  "  float d = 0.35 + 0.55 * max(dot(n, key), 0.0) + 0.2 * max(dot(n, fill), 0.0);" +
  "  float s = 0.15 * pow(max(dot(n, normalize(key + v)), 0.0), 24.0);" +
  "  return color * d + vec3(s); }";

// A new static buffer bound to target (gl.ARRAY_BUFFER or gl.ELEMENT_ARRAY_BUFFER), holding array.
function staticBuffer(gl, target, array) {
  var buffer = gl.createBuffer();
  gl.bindBuffer(target, buffer);
  gl.bufferData(target, array, gl.STATIC_DRAW);
  return buffer;
}

// The perspective projection of vertical field of view fovy (radians), aspect width / height,
// and near and far clipping distances.
function perspective(fovy, aspect, near, far) {
  var f = 1 / Math.tan(fovy / 2), d = near - far;
  return new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) / d, -1, 0, 0, 2 * far * near / d, 0]);
}

// The view matrix of a camera orbiting target: its eye at target + distance * (sin yaw cos pitch,
// sin pitch, cos yaw cos pitch), looking at target, y up (yaw = pitch = 0: from +z along -z).
function orbitView(target, yaw, pitch, distance) {
  var cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
  var x = [cy, 0, -sy], y = [-sp * sy, cp, -sp * cy], z = [cp * sy, sp, cp * cy];  // the camera's axes
  function dot(a, b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
  return new Float32Array([x[0], y[0], z[0], 0, x[1], y[1], z[1], 0, x[2], y[2], z[2], 0,
                           -dot(x, target), -dot(y, target), -dot(z, target) - distance, 1]);
}

// Mouse and touch control of the orbit camera {yaw, pitch, distance} (see orbitView) on canvas:
// dragging turns it (0.01 rad a pixel across; options.pitchStep rad a pixel down, pitch within
// +-1.5), the wheel zooms (distance within options.minDistance and options.maxDistance, when
// given), a double-click calls options.reset and options.onGrab (when given) is called as a drag
// starts.
function orbitControls(canvas, camera, options) {
  var low = options.minDistance === undefined ? 0 : options.minDistance;
  var high = options.maxDistance === undefined ? Infinity : options.maxDistance;
  var dragging = null;
  canvas.addEventListener("pointerdown", function (e) {
    dragging = { x: e.clientX, y: e.clientY };
    canvas.setPointerCapture(e.pointerId);
    if (options.onGrab) options.onGrab();
  });
  canvas.addEventListener("pointermove", function (e) {
    if (!dragging) return;
    camera.yaw += (e.clientX - dragging.x) * 0.01;
    camera.pitch = Math.max(-1.5, Math.min(1.5, camera.pitch + (e.clientY - dragging.y) * options.pitchStep));
    dragging = { x: e.clientX, y: e.clientY };
  });
  canvas.addEventListener("pointerup", function () { dragging = null; });
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    camera.distance = Math.max(low, Math.min(high, camera.distance * Math.exp(e.deltaY * 0.001)));
  }, { passive: false });
  canvas.addEventListener("dblclick", options.reset);
}

// Sizes canvas's drawing buffer to its size on screen times ratio (device pixels per CSS pixel)
// and the viewport to match; returns {width, height}, the buffer's size.
function fitCanvas(gl, canvas, ratio) {
  var w = Math.round(canvas.clientWidth * ratio), h = Math.round(canvas.clientHeight * ratio);
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  gl.viewport(0, 0, w, h);
  return { width: w, height: h };
}
