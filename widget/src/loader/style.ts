// The bubble's CSS. `:host{all:initial}` (important, so it wins over the host page's rules on our
// element) cuts every inherited property; `.root` then sets font, colour and sizes explicitly so
// nothing of the host page's typography reaches inside. Our selectors live in the shadow root and
// cannot match the host page's elements.
export const launcherCss = `
:host{all:initial!important;display:block!important}
.root{--papote-color:#2f54eb;--papote-ink:#fff;font:400 15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328;letter-spacing:normal;text-align:left;direction:ltr}
.root *,.root *::before,.root *::after{box-sizing:border-box}
.launcher{position:fixed;z-index:2147483000;right:20px;bottom:20px;width:56px;height:56px;margin:0;padding:0;border:0;border-radius:50%;background:var(--papote-color);color:var(--papote-ink);box-shadow:0 4px 14px rgba(0,0,0,.25);cursor:pointer;display:flex;align-items:center;justify-content:center;font:inherit;transition:transform .15s}
.launcher:hover{transform:scale(1.06)}
.launcher:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}
.left .launcher{right:auto;left:20px}
.launcher .brand{width:100%;height:100%;border-radius:50%;object-fit:cover;pointer-events:none}
.badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#d92d20;color:#fff;font:700 12px/22px system-ui,sans-serif;text-align:center;box-shadow:0 0 0 2px #fff}
.consent{position:fixed;z-index:2147483000;right:20px;bottom:88px;width:300px;max-width:calc(100vw - 40px);padding:16px;border-radius:12px;background:#fff;color:#1f2328;box-shadow:0 4px 20px rgba(0,0,0,.25)}
.left .consent{right:auto;left:20px}
.consent p{margin:0 0 12px}
.consent button{margin:0 8px 0 0;padding:8px 12px;border:1px solid var(--papote-color);border-radius:8px;background:#fff;color:#1f2328;font:inherit;cursor:pointer}
.consent .yes{background:var(--papote-color);color:var(--papote-ink)}
@media (prefers-reduced-motion:reduce){.launcher{transition:none}}
`;
