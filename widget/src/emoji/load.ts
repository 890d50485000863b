// Fetching the emoji picker's chunk on first use. It is a classic script (not an ES module): a module
// import from the merchant's page would need CORS and an import-capable CSP; a script tag needs only
// what loading the panel already needs. The chunk hands its module to its own script element.

import type { EmojiPickerModule } from "./picker";

const loading = new Map<string, Promise<EmojiPickerModule>>();

export function loadPicker(url: string): Promise<EmojiPickerModule> {
  let pending = loading.get(url);
  if (!pending) {
    pending = new Promise<EmojiPickerModule>((resolve, reject) => {
      const script = document.createElement("script");
      script.async = true;
      script.src = url;
      script.addEventListener("papote:emoji", (event) => resolve((event as CustomEvent<EmojiPickerModule>).detail));
      script.onerror = () => {
        loading.delete(url); // a later press tries again
        script.remove();
        reject(new Error(`the emoji picker did not load from ${url}`));
      };
      document.head.appendChild(script);
    });
    loading.set(url, pending);
  }
  return pending;
}
