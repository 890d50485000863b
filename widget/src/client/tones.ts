// Short sine tones made on the fly: no audio file to download, nothing for a page's CSP to allow.
// The widget's beep and the console's chime are both this, with their own pitches and length.

/** Plays `freqs` one after the other, 120 ms apart, each `length` seconds at `peak` gain. */
export function playTones(audio: AudioContext, freqs: number[], peak: number, length: number): void {
  const start = audio.currentTime;
  for (const [i, freq] of freqs.entries()) {
    const at = start + i * 0.12;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(peak, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + length - 0.01);
    osc.connect(gain).connect(audio.destination);
    osc.start(at);
    osc.stop(at + length);
  }
}
