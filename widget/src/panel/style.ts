// The panel's CSS, added to the same shadow root as the bubble (see loader/style.ts for how host
// styles are kept out). Sizes are in px, not rem: rem follows the host page's root font size.
export const panelCss = `
.panel{position:fixed;z-index:2147483001;right:20px;bottom:90px;width:370px;height:min(600px,calc(100vh - 110px));display:flex;flex-direction:column;background:#fff;color:#1f2328;border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.25);overflow:hidden;font:inherit}
.panel[hidden]{display:none}
.left .panel{right:auto;left:20px}
.head{display:flex;align-items:center;gap:10px;padding:14px 14px 12px 16px;background:var(--papote-color);color:var(--papote-ink)}
.who{flex:1;min-width:0}
.title{font-weight:700;font-size:16px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.status{font-size:13px;opacity:.9}
.icon{width:36px;height:36px;border:0;border-radius:8px;background:transparent;color:inherit;cursor:pointer;display:flex;align-items:center;justify-content:center;padding:0;font:inherit}
.icon:hover{background:rgba(255,255,255,.18)}
button:focus-visible,textarea:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid #ffbf47;outline-offset:1px}
.banner{padding:6px 12px;font-size:13px;background:#fff4e5;color:#7a4100;border-bottom:1px solid #f3d7b0}
.notice{padding:8px 14px;font-size:13px;background:#f4f6fa;color:#3d4450;border-bottom:1px solid #e6e9ef}
.log{flex:1;min-height:120px;overflow-y:auto;padding:12px 12px 4px;display:flex;flex-direction:column;gap:6px;background:#fafbfc;overscroll-behavior:contain}
.day{align-self:center;font-size:12px;color:#6b7280;margin:8px 0 2px}
.event{align-self:center;font-size:12px;color:#6b7280;text-align:center;max-width:90%}
.msg{display:flex;gap:8px;align-items:flex-end;max-width:85%}
.msg.mine{align-self:flex-end;flex-direction:row-reverse}
.avatar{flex:none;width:28px;height:28px;border-radius:50%;background:#d8dee9;color:#334;font-size:12px;font-weight:700;display:flex;align-items:center;justify-content:center;overflow:hidden}
.avatar img{width:100%;height:100%;object-fit:cover}
.bubble{padding:8px 12px;border-radius:16px;background:#fff;border:1px solid #e3e6eb;white-space:pre-wrap;overflow-wrap:anywhere;min-width:0}
.mine .bubble{background:var(--papote-color);color:var(--papote-ink);border-color:transparent}
.mine .bubble a{color:inherit}
.bubble a{color:#1d4ed8;text-decoration:underline}
.author{font-size:12px;font-weight:600;color:#4b5563;margin-bottom:2px}
.meta{font-size:11px;color:#4b5563;margin-top:2px;text-align:right}
.mine .meta{color:inherit}
.msg[data-state=pending] .bubble{opacity:.65}
.msg[data-state=rejected] .bubble{background:#fde8e8;color:#8a1c1c}
.typing{font-size:12px;color:#6b7280;font-style:italic;padding:2px 4px}
.earlier{align-self:center;border:0;background:none;color:#1d4ed8;cursor:pointer;font:inherit;font-size:13px;padding:4px}
.extras{flex:none;max-height:45%;overflow-y:auto}
.box{padding:10px 12px;border-top:1px solid #e6e9ef;font-size:14px;display:flex;flex-direction:column;gap:8px}
.row{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.stars button{height:40px;padding:0 10px;white-space:nowrap;border:1px solid #cfd5dd;border-radius:8px;background:#fff;color:#1f2328;cursor:pointer;font:inherit;font-size:15px}
.stars button[aria-pressed=true]{background:var(--papote-color);color:var(--papote-ink);border-color:transparent}
input,textarea{font:inherit;font-size:16px;color:#1f2328;background:#fff;border:1px solid #cfd5dd;border-radius:10px;padding:8px 10px;margin:0;min-width:0}
input{flex:1}
.btn{border:0;border-radius:10px;padding:9px 14px;background:var(--papote-color);color:var(--papote-ink);font:inherit;font-size:15px;font-weight:600;cursor:pointer}
.btn:disabled{opacity:.5;cursor:default}
.code{font:700 20px/1.2 ui-monospace,SFMono-Regular,Menlo,monospace;letter-spacing:2px}
.small{font-size:12px;color:#6b7280;overflow-wrap:anywhere}
.composer{display:flex;gap:8px;align-items:flex-end;padding:10px 12px;border-top:1px solid #e6e9ef;background:#fff}
.composer textarea{flex:1;resize:none;max-height:120px;line-height:1.35}
.foot{padding:4px 12px 8px;background:#fff;text-align:center}
.linkbtn{border:0;background:none;color:#6b7280;font:inherit;font-size:12px;cursor:pointer;text-decoration:underline}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:480px){
.panel{inset:0;width:auto;height:auto;border-radius:0}
.root.open .launcher{display:none}
}
`;
