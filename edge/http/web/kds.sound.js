// posedge kitchen display: the chime for a new ticket, made with WebAudio (no sound file),
// and the button that turns it on or off on this screen (remembered in local storage).
// Browsers play sound only after a tap on the page: the button's tap is that tap.
"use strict";

window.kdsSound = (() => {
  const SOUND_KEY = "posedge.kds.sound";
  const $ = (id) => document.getElementById(id);

  let audio = null;

  function soundOn() {
    return localStorage.getItem(SOUND_KEY) === "on";
  }

  function showSound() {
    $("sound").textContent = soundOn() ? "Sound on" : "Sound off";
  }

  function chime() {
    if (!soundOn()) return;
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
    const start = audio.currentTime;
    for (const [offset, pitch] of [[0, 880], [0.18, 1320]]) {
      const tone = audio.createOscillator();
      const volume = audio.createGain();
      tone.frequency.value = pitch;
      volume.gain.setValueAtTime(0.0001, start + offset);
      volume.gain.exponentialRampToValueAtTime(0.4, start + offset + 0.02);
      volume.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.16);
      tone.connect(volume).connect(audio.destination);
      tone.start(start + offset);
      tone.stop(start + offset + 0.17);
    }
  }

  $("sound").addEventListener("click", () => {
    localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on");
    showSound();
    chime(); // the click lets the browser start the sound, and lets the kitchen hear it
  });
  showSound();

  return { chime };
})();
