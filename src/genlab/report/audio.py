"""The report's section for a model of audio: its samples and reconstructions as clips to play, embedded.

Each clip is a WAV inside the page (an <audio> element with a data URL): the page still needs
no network and no script. Spectrograms become sound by Griffin-Lim (genlab.data.spectrogram).
"""

from __future__ import annotations

import base64
import html

import torch

from genlab.api import load, run_data_config
from genlab.apps.outputs import to_waveforms
from genlab.data.audio import wav_bytes
from genlab.data.model_inputs import model_inputs
from genlab.errors import GenlabError
from genlab.models.inference import run_batched

CLIPS = 6  # samples played (one per class for a conditional model, up to this many classes)
RECONSTRUCTED = 4  # test clips played beside their reconstructions
SEED = 0


def audio_section(directory, device: str = "cpu") -> str:
    """Clips to listen to, or "" for a model that is not of audio."""
    model = load(directory.root, device=device)
    if not model.config.audio:
        return ""
    rate = model.config.audio["rate"]
    rows = []
    with torch.no_grad():
        if model.capabilities.samples:
            count = min(CLIPS, model.config.num_classes) if model.conditional else CLIPS
            labels = torch.arange(count) if model.conditional else None
            samples = model.sample(count, torch.Generator().manual_seed(SEED), labels)
            if model.conditional:
                classes = model.config.class_names or [str(i) for i in range(count)]
                names = [f"class {classes[i]}" for i in range(count)]
            else:
                names = [f"sample {i + 1}" for i in range(count)]
            rows.append(("samples", _players(to_waveforms(model, samples), rate, names)))
        if model.capabilities.label_free_codes:
            try:
                x, _ = model_inputs(model, run_data_config(directory.root, model), "test", RECONSTRUCTED)
            except GenlabError as error:  # the data may be gone or offline: the samples still stand
                rows.append(("reconstructions", f"<p class='note'>Not made: {html.escape(str(error))}</p>"))
            else:
                rebuilt = run_batched(model.reconstruct, x, device=model.device).float().cpu()
                pairs = torch.stack([x, rebuilt], 1).flatten(0, 1)
                names = [f"test clip {i // 2 + 1}" + (" reconstructed" if i % 2 else "") for i in range(len(pairs))]
                rows.append(("test clips and their reconstructions", _players(to_waveforms(model, pairs), rate, names)))
    body = "".join(f"<h3>{html.escape(title)}</h3>{players}" for title, players in rows)
    return ("<h2>Listen</h2><p class='note'>Spectrograms made audible by Griffin-Lim phase estimation at "
            f"{rate:,} Hz; every clip is embedded in this page.</p>" + body)


def _players(waves, rate: int, names: list[str]) -> str:
    return "".join(
        f"<figure><audio controls src='data:audio/wav;base64,{base64.b64encode(wav_bytes(wave, rate)).decode('ascii')}'>"
        f"</audio><figcaption>{html.escape(name)}</figcaption></figure>" for wave, name in zip(waves, names))
