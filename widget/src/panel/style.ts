// The panel's CSS, added to the same shadow root as the bubble (see loader/style.ts for how host
// styles are kept out). Sizes are in px, not rem: rem follows the host page's root font size.
// Colours are variables: light by default, dark when the visitor's system asks for it or the site's
// theme setting holds it (.root.light / .root.dark); the site's own colour and its ink stay as they are. Muted text keeps 4.5:1 on every surface it sits on.
const dark =
  "--p-bg:#1c1f26;--p-fg:#e8eaef;--p-log:#15171c;--p-bubble:#262a33;--p-line:#343945;--p-edge:#4b5260;--p-muted:#a9b0bc;" +
  "--p-link:#93b4ff;--p-note:#232833;--p-note-fg:#cfd6e0;--p-warn:#3b2a10;--p-warn-fg:#ffd08f;--p-warn-line:#6b4b1c;" +
  "--p-bad:#431b1b;--p-bad-fg:#ffc2c2;--p-avatar:#3a4150;--p-avatar-fg:#e3e7ee;color-scheme:dark";
export const panelCss = `
.panel{--p-bg:#fff;--p-fg:#1f2328;--p-log:#fafbfc;--p-bubble:#fff;--p-line:#e6e9ef;--p-edge:#cfd5dd;--p-muted:#4b5563;--p-link:#1d4ed8;--p-note:#f4f6fa;--p-note-fg:#3d4450;--p-warn:#fff4e5;--p-warn-fg:#7a4100;--p-warn-line:#f3d7b0;--p-bad:#fde8e8;--p-bad-fg:#8a1c1c;--p-avatar:#d8dee9;--p-avatar-fg:#334}
@media (prefers-color-scheme:dark){.root:not(.light) .panel{${dark}}}
.root.dark .panel{${dark}}
.panel{position:fixed;z-index:2147483001;right:20px;bottom:90px;width:370px;height:min(600px,calc(100vh - 110px));display:flex;flex-direction:column;background:var(--p-bg);color:var(--p-fg);border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.25);overflow:hidden;font:inherit}
.panel[hidden]{display:none}
.left .panel{right:auto;left:20px}
.head{display:flex;align-items:center;gap:10px;padding:14px 14px 12px 16px;background:var(--papote-color);color:var(--papote-ink)}
.who{flex:1;min-width:0}
.title{font-weight:700;font-size:16px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.status{font-size:13px;opacity:.9}
.icon{width:36px;height:36px;border:0;border-radius:8px;background:transparent;color:inherit;cursor:pointer;display:flex;align-items:center;justify-content:center;padding:0;font:inherit}
.icon:hover{background:rgba(255,255,255,.18)}
button:focus-visible,textarea:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid #ffbf47;outline-offset:1px}
.log:focus-visible{outline:3px solid #ffbf47;outline-offset:-3px}
.banner{padding:6px 12px;font-size:13px;background:var(--p-warn);color:var(--p-warn-fg);border-bottom:1px solid var(--p-warn-line)}
.notice{padding:8px 14px;font-size:13px;background:var(--p-note);color:var(--p-note-fg);border-bottom:1px solid var(--p-line)}
.log{flex:1;min-height:120px;overflow-y:auto;padding:12px 12px 4px;display:flex;flex-direction:column;gap:6px;background:var(--p-log);overscroll-behavior:contain}
.day{align-self:center;font-size:12px;color:var(--p-muted);margin:8px 0 2px}
.event{align-self:center;font-size:12px;color:var(--p-muted);text-align:center;max-width:90%}
.msg{display:flex;gap:8px;align-items:flex-end;max-width:85%}
.msg.mine{align-self:flex-end;flex-direction:row-reverse}
.avatar{flex:none;width:28px;height:28px;border-radius:50%;background:var(--p-avatar);color:var(--p-avatar-fg);font-size:12px;font-weight:700;display:flex;align-items:center;justify-content:center;overflow:hidden}
.avatar img{width:100%;height:100%;object-fit:cover}
.bubble{padding:8px 12px;border-radius:16px;background:var(--p-bubble);border:1px solid var(--p-line);white-space:pre-wrap;overflow-wrap:anywhere;min-width:0}
.mine .bubble{background:var(--papote-color);color:var(--papote-ink);border-color:transparent}
.mine .bubble a{color:inherit}
.bubble a{color:var(--p-link);text-decoration:underline}
.author{font-size:12px;font-weight:600;color:var(--p-muted);margin-bottom:2px}
.meta{font-size:11px;color:var(--p-muted);margin-top:2px;text-align:right}
.mine .meta{color:inherit}
.msg[data-state=pending] .bubble,.msg[data-state=retrying] .bubble{opacity:.65}
.msg[data-state=rejected] .bubble{background:var(--p-bad);color:var(--p-bad-fg)}
.typing{font-size:12px;color:var(--p-muted);font-style:italic;padding:2px 4px}
.earlier{align-self:center;border:0;background:none;color:var(--p-link);cursor:pointer;font:inherit;font-size:13px;padding:4px}
.extras{flex:none;max-height:45%;overflow-y:auto}
.box{padding:10px 12px;border-top:1px solid var(--p-line);font-size:14px;display:flex;flex-direction:column;gap:8px}
.row{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.nps{gap:4px}.nps-ends{justify-content:space-between}.msg[data-state=held] .bubble{opacity:.7}
.stars button,.nps button{height:40px;padding:0 10px;white-space:nowrap;border:1px solid var(--p-edge);border-radius:8px;background:var(--p-bg);color:var(--p-fg);cursor:pointer;font:inherit;font-size:15px}
.stars button[aria-pressed=true],.nps button[aria-pressed=true]{background:var(--papote-color);color:var(--papote-ink);border-color:transparent}
.nps button{padding:0 6px;min-width:30px}
input,textarea{font:inherit;font-size:16px;color:var(--p-fg);background:var(--p-bg);border:1px solid var(--p-edge);border-radius:10px;padding:8px 10px;margin:0;min-width:0}
input{flex:1}
.btn{border:0;border-radius:10px;padding:9px 14px;background:var(--papote-color);color:var(--papote-ink);font:inherit;font-size:15px;font-weight:600;cursor:pointer}
.btn:disabled{opacity:.5;cursor:default}
.code{font:700 20px/1.2 ui-monospace,SFMono-Regular,Menlo,monospace;letter-spacing:2px}
.small{font-size:12px;color:var(--p-muted);overflow-wrap:anywhere}
.composer{display:flex;gap:8px;align-items:flex-end;padding:10px 12px;border-top:1px solid var(--p-line);background:var(--p-bg)}
.composer textarea{flex:1;resize:none;max-height:120px;line-height:1.35}
.foot{padding:4px 12px 8px;background:var(--p-bg);text-align:center}
.linkbtn{border:0;background:none;color:var(--p-muted);font:inherit;font-size:12px;cursor:pointer;text-decoration:underline}
.box[data-kind=link]{position:relative;padding-right:40px}
.shut{position:absolute;top:6px;right:6px;width:28px;height:28px;color:var(--p-muted)}
.shut:hover{background:var(--p-line)}
.icon[hidden],.threads[hidden],.log[hidden],.extras[hidden],.composer[hidden]{display:none}
.threads{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px;background:var(--p-log)}
.threads-title{font-size:15px;margin:0}
.threads-list{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:6px}
.thread{width:100%;text-align:left;display:flex;flex-direction:column;gap:2px;padding:10px 12px;border:1px solid var(--p-line);border-radius:10px;background:var(--p-bubble);color:var(--p-fg);font:inherit;font-size:14px;cursor:pointer}
.thread[data-unread] .preview{font-weight:700}
.preview{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.linkrow{display:flex;gap:12px;align-items:center}
.linkwords{display:flex;flex-direction:column;gap:4px;min-width:0}
.qr{flex:none}
.error{font-size:13px;color:var(--p-bad-fg);background:var(--p-bad);padding:6px 8px;border-radius:8px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.tray{display:flex;flex-direction:column;gap:4px;padding:0 10px}
.tray:empty{display:none}
.upload{display:flex;align-items:center;gap:6px}
.upload progress{flex:1}
.files{display:flex;flex-wrap:wrap;gap:6px;margin-top:4px}
.thumb{padding:0;border:0;background:none;cursor:zoom-in}
.thumb img{max-width:160px;max-height:160px;border-radius:8px;display:block}
.card{display:flex;flex-direction:column;gap:2px;padding:6px 8px;border:1px solid currentColor;border-radius:8px}
.viewer{position:absolute;inset:0;background:rgba(0,0,0,.85);display:flex;flex-direction:column;align-items:center;justify-content:center;gap:10px;z-index:5}
.viewer .large{max-width:95%;max-height:80%}
@media (max-width:480px){
.panel{inset:0;width:auto;height:auto;border-radius:0}
.root.open .launcher{display:none}
}
`;
