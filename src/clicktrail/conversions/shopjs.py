"""`GET /ct.js`: the script a shop puts on its pages to carry our click id to the order.

It keeps the click id from the landing URL in a first-party cookie for 90 days (a newer click
replaces it: last click wins), exposes it as `window.clicktrail.clickId`, and on a Shopify store
writes it into the cart attributes (`/cart/update.js`), which Shopify copies into the order's
`note_attributes`. No dependencies, no network calls except that one on Shopify.
"""

from __future__ import annotations

import json

COOKIE = "ct_id"  # also the name of the Shopify cart attribute and WooCommerce order meta
MAX_AGE_DAYS = 90

_TEMPLATE = """/* Clicktrail ct.js: keeps the click id (?%(param)s=) in a first-party cookie for the order. */
(function (w, d) {
  "use strict";
  var PARAM = %(param_json)s, COOKIE = %(cookie_json)s, MAX_AGE = %(max_age)d;
  function read() {
    var m = d.cookie.match(new RegExp("(?:^|;\\\\s*)" + COOKIE + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
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
  var sent = null;
  try { sent = w.sessionStorage.getItem("ct_cart"); } catch (e) {}
  if (sent === id) return;
  var root = (w.Shopify.routes && w.Shopify.routes.root) || "/";
  var attributes = {};
  attributes[COOKIE] = id;
  w.fetch(root + "cart/update.js", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "Accept": "application/json" },
    body: JSON.stringify({ attributes: attributes })
  }).then(function (r) {
    if (r.ok) { try { w.sessionStorage.setItem("ct_cart", id); } catch (e) {} }
  }).catch(function () {});
})(window, document);
"""


def script(param: str) -> str:
    return _TEMPLATE % {
        "param": param, "param_json": json.dumps(param), "cookie_json": json.dumps(COOKIE),
        "max_age": MAX_AGE_DAYS * 86400,
    }
