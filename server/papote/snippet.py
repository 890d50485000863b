"""The embed snippet a site owner pastes: a queued `Papote(...)` stub and the async loader.

Safe to paste twice (the stub returns if `window.Papote` exists); calls made before the loader arrives
are queued in `Papote.q` and run in order once it does (docs/widget-api.md).
"""

from __future__ import annotations

import json

_TEMPLATE = """<script>
(function(w,d,k,u){{if(w.Papote)return;var p=w.Papote=function(){{p.q.push(arguments)}};p.q=[];p.k=k;p.u=u;
var s=d.createElement("script");s.async=1;s.src=u+"/widget/loader.js";d.head.appendChild(s)}})(window,document,{key},{url});
</script>"""  # noqa: E501 - the snippet's lines are what the site owner pastes


def render_snippet(site_key: str, base_url: str) -> str:
    # json.dumps quotes and escapes; "</" cannot appear in a site key or a URL we generate.
    return _TEMPLATE.format(key=json.dumps(site_key), url=json.dumps(base_url.rstrip("/")))
