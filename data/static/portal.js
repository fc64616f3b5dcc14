/* facturo self-invoicing portal: optional helpers.  Every page works
 * without this file; with it, (1) the régimen and uso dropdowns show
 * only what fits the RFC typed and the régimen chosen, and (2) a look-up
 * form that carries a proof-of-work challenge solves it before sending
 * (SHA-256(challenge ":" nonce) with N leading zero bits, checked by the
 * server). */
(function () {
  'use strict';

  /* ---- SHA-256 (FIPS 180-4), on bytes ---- */
  var K = [0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2];
  var W = new Int32Array(64);
  function sha256(bytes) {
    var n = bytes.length, total = ((n + 9 + 63) >> 6) << 6;
    var m = new Uint8Array(total);
    m.set(bytes); m[n] = 0x80;
    var bits = n * 8;
    m[total - 4] = (bits >>> 24) & 255; m[total - 3] = (bits >>> 16) & 255;
    m[total - 2] = (bits >>> 8) & 255; m[total - 1] = bits & 255;
    var h0 = 0x6a09e667, h1 = 0xbb67ae85, h2 = 0x3c6ef372, h3 = 0xa54ff53a,
      h4 = 0x510e527f, h5 = 0x9b05688c, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
    for (var o = 0; o < total; o += 64) {
      for (var i = 0; i < 16; i++)
        W[i] = (m[o + 4 * i] << 24) | (m[o + 4 * i + 1] << 16) | (m[o + 4 * i + 2] << 8) | m[o + 4 * i + 3];
      for (i = 16; i < 64; i++) {
        var a = W[i - 15], b = W[i - 2];
        var s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        var s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
      }
      var A = h0, B = h1, C = h2, D = h3, E = h4, F = h5, G = h6, H = h7;
      for (i = 0; i < 64; i++) {
        var S1 = ((E >>> 6) | (E << 26)) ^ ((E >>> 11) | (E << 21)) ^ ((E >>> 25) | (E << 7));
        var ch = (E & F) ^ (~E & G);
        var t1 = (H + S1 + ch + K[i] + W[i]) | 0;
        var S0 = ((A >>> 2) | (A << 30)) ^ ((A >>> 13) | (A << 19)) ^ ((A >>> 22) | (A << 10));
        var mj = (A & B) ^ (A & C) ^ (B & C);
        var t2 = (S0 + mj) | 0;
        H = G; G = F; F = E; E = (D + t1) | 0; D = C; C = B; B = A; A = (t1 + t2) | 0;
      }
      h0 = (h0 + A) | 0; h1 = (h1 + B) | 0; h2 = (h2 + C) | 0; h3 = (h3 + D) | 0;
      h4 = (h4 + E) | 0; h5 = (h5 + F) | 0; h6 = (h6 + G) | 0; h7 = (h7 + H) | 0;
    }
    return [h0, h1, h2, h3, h4, h5, h6, h7];
  }
  function utf8(s) { return new TextEncoder().encode(s); }
  function zeroBits(h, bits) {
    for (var i = 0; i < bits; i++)
      if ((h[i >> 5] >>> (31 - (i & 31))) & 1) return false;
    return true;
  }
  function solve(challenge, bits) {
    for (var nonce = 0; nonce < 1e9; nonce++)
      if (zeroBits(sha256(utf8(challenge + ':' + nonce)), bits)) return String(nonce);
    return '';
  }

  function powForms() {
    var forms = document.querySelectorAll('form[data-pow-bits]');
    Array.prototype.forEach.call(forms, function (f) {
      f.addEventListener('submit', function (ev) {
        var ch = f.querySelector('input[name=pow_challenge]');
        var nn = f.querySelector('input[name=pow_nonce]');
        if (!ch || !nn || nn.value) return;
        ev.preventDefault();
        var btn = f.querySelector('button[type=submit]');
        if (btn) btn.disabled = true;
        setTimeout(function () {
          nn.value = solve(ch.value, parseInt(f.getAttribute('data-pow-bits'), 10));
          if (btn) btn.disabled = false;
          f.submit();
        }, 10);
      });
    });
  }

  /* ---- dropdowns narrowed to the RFC's kind and the régimen ---- */
  function kindOf(rfc) {
    rfc = rfc.replace(/[\s-]/g, '');
    var n = Array.from(rfc).length;
    if (rfc === 'XAXX010101000' || rfc === 'XEXX010101000') return 'g';
    return n === 12 ? 'm' : n === 13 ? 'f' : '';
  }
  function fiscalForm() {
    var rfc = document.getElementById('rfc');
    var reg = document.getElementById('regime');
    var use = document.getElementById('use');
    if (!rfc || !reg || !use) return;
    function show(opt, ok) { opt.hidden = !ok; opt.disabled = !ok; }
    function update() {
      var k = kindOf(rfc.value.toUpperCase());
      Array.prototype.forEach.call(reg.options, function (o) {
        if (!o.value) return;
        var kinds = (o.getAttribute('data-kinds') || '').split(' ');
        show(o, !k || k === 'g' ? (k !== 'g' || o.value === '616') : kinds.indexOf(k) >= 0);
      });
      if (reg.selectedOptions[0] && reg.selectedOptions[0].disabled) reg.value = '';
      var r = reg.value;
      Array.prototype.forEach.call(use.options, function (o) {
        if (!o.value) return;
        var kinds = (o.getAttribute('data-kinds') || '').split(' ');
        var regs = (o.getAttribute('data-regimes') || '').split(' ');
        var ok = (!k || k === 'g' || kinds.indexOf(k) >= 0) && (!r || regs.indexOf(r) >= 0);
        show(o, ok);
      });
      if (use.selectedOptions[0] && use.selectedOptions[0].disabled) use.value = '';
    }
    rfc.addEventListener('input', update);
    reg.addEventListener('change', update);
    update();
  }

  document.addEventListener('DOMContentLoaded', function () { powForms(); fiscalForm(); });
})();
