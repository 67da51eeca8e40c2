"""`GET /ct.js`: the script a shop puts on its pages to carry our click id to the order.

It keeps the click id from the landing URL in a first-party cookie for 90 days (a newer click
replaces it: last click wins), exposes it as `window.clicktrail.clickId`, and on a Shopify store
writes it into the cart attributes (`/cart/update.js`), which Shopify copies into the order's
`note_attributes`. With it go the ad platforms' own first-party cookies when the page has them
(`_ga` of Google Analytics, `_fbp`/`_fbc` of the Meta pixel, `_ttp` of the TikTok pixel), under
their own names, so the order sent on to GA4, Meta and TikTok (outbound/) matches their visitor.
No dependencies, no network calls except that one on Shopify.
"""

from __future__ import annotations

import json

COOKIE = "ct_id"  # also the name of the Shopify cart attribute and WooCommerce order meta
PLATFORM_COOKIES = ("_ga", "_fbp", "_fbc", "_ttp")  # copied as attributes of the same names
MAX_AGE_DAYS = 90

_TEMPLATE = """/* Clicktrail ct.js: keeps the click id (?%(param)s=) in a first-party cookie for the order. */
(function (w, d) {
  "use strict";
  var PARAM = %(param_json)s, COOKIE = %(cookie_json)s, MAX_AGE = %(max_age)d, PLATFORM = %(platform_json)s;
  function read(name) {
    var m = d.cookie.match(new RegExp("(?:^|;\\\\s*)" + (name || COOKIE) + "=([^;]*)"));
    try { return m ? decodeURIComponent(m[1]) : null; } catch (e) { return null; }
  }
  var found = null;
  try { found = new URLSearchParams(w.location.search).get(PARAM); } catch (e) {}
  if (found && /^[A-Za-z0-9_-]{1,64}$/.test(found)) {
    d.cookie = COOKIE + "=" + encodeURIComponent(found) + "; Max-Age=" + MAX_AGE + "; Path=/; SameSite=Lax" +
      (w.location.protocol === "https:" ? "; Secure" : "");
  }
  var id = read();
  w.clicktrail = { clickId: id };
  if (!id || !w.Shopify || !w.fetch) return;
  var attributes = {}, i, value;
  attributes[COOKIE] = id;
  for (i = 0; i < PLATFORM.length; i++) {
    value = read(PLATFORM[i]);
    if (value && value.length <= 500) attributes[PLATFORM[i]] = value;
  }
  var state = JSON.stringify(attributes), sent = null;
  try { sent = w.sessionStorage.getItem("ct_cart"); } catch (e) {}
  if (sent === state) return;
  var root = (w.Shopify.routes && w.Shopify.routes.root) || "/";
  w.fetch(root + "cart/update.js", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "Accept": "application/json" },
    body: JSON.stringify({ attributes: attributes })
  }).then(function (r) {
    if (r.ok) { try { w.sessionStorage.setItem("ct_cart", state); } catch (e) {} }
  }).catch(function () {});
})(window, document);
"""


def script(param: str) -> str:
    return _TEMPLATE % {
        "param": param, "param_json": json.dumps(param), "cookie_json": json.dumps(COOKIE),
        "platform_json": json.dumps(list(PLATFORM_COOKIES)),
        "max_age": MAX_AGE_DAYS * 86400,
    }
