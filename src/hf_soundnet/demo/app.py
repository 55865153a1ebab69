"""The interactive demo as a Gradio app: upload or record a recording, see its top objects and scenes, the timeline
plot and a per-step table. `soundnet demo` serves it locally; `spaces/soundnet8/app.py` serves it as a Hugging Face
Space. Both build it with [`build_demo`].

Gradio's analytics are switched off (`GRADIO_ANALYTICS_ENABLED=False` unless set otherwise) and the page uses system
fonts, so the app starts and runs with no network.
"""

import os
from typing import Any

from ..errors import SoundNetError
from .analysis import TABLE_HEADERS, DemoModel, analyse, label_scores, step_rows, summary
from .plot import timeline_figure


TITLE = "SoundNet: objects and scenes in a recording"
INTRO = (
    "Upload a recording (any format FFmpeg reads) or record one with the microphone, then press **Classify**. "
    "SoundNet-8 (Aytar, Vondrick, Torralba, NIPS 2016) hears the raw waveform at 22,050 Hz (the first channel of a "
    "multi-channel file) and names ImageNet objects and Places scenes, one prediction per 2.97 s step; clips shorter "
    "than 10 s are repeated. The clip's labels are the per-step probabilities averaged."
)
NO_AUDIO = "Upload or record a recording first."


def _quiet_gradio() -> Any:
    """`gradio`, imported with its analytics off (no network call at import or launch)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio

    return gradio


def make_classifier(demo_model: DemoModel, top_k: int = 5):
    """
    The function behind the Classify button: an audio file path (or None) -> the page's outputs
    `(status Markdown, top objects {label: p}, top scenes {label: p}, timeline figure or None, per-step rows)`.
    A file that cannot be decoded gives its error message (naming the file) as the status, not an exception.
    """

    def classify(audio_path: str | None):
        if not audio_path:
            return NO_AUDIO, None, None, None, []
        try:
            analysis = analyse(demo_model, audio_path, top_k=top_k)
        except (SoundNetError, ValueError) as err:
            return f"**Error:** {err}", None, None, None, []
        record = analysis.record
        figure = timeline_figure(demo_model, analysis, title=record["path"])
        return (
            summary(record),
            label_scores(record["objects"]),
            label_scores(record["scenes"]),
            figure,
            step_rows(record, demo_model.step_seconds),
        )

    return classify


def build_demo(demo_model: DemoModel, top_k: int = 5, examples: list[str] | None = None):
    """
    The demo's `gradio.Blocks` for a loaded [`DemoModel`] (see [`load_demo`] to build it from a checkpoint name).

    Args:
        demo_model: the checkpoint, loaded once.
        top_k: objects and scenes listed.
        examples: audio files offered as examples under the input (none by default).
    """
    gr = _quiet_gradio()
    with gr.Blocks(title="SoundNet demo", analytics_enabled=False) as blocks:
        gr.Markdown(f"# {TITLE}\n{INTRO}\n\nModel: `{demo_model.name}`.")
        with gr.Row():
            with gr.Column(scale=1):
                audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Recording", elem_id="audio")
                button = gr.Button("Classify", variant="primary", elem_id="classify")
                if examples:
                    gr.Examples(examples=[[path] for path in examples], inputs=[audio])
            with gr.Column(scale=1):
                status = gr.Markdown(NO_AUDIO, elem_id="status")
                objects = gr.Label(num_top_classes=top_k, label="Top objects (ImageNet)", elem_id="objects")
                scenes = gr.Label(num_top_classes=top_k, label="Top scenes (Places)", elem_id="scenes")
        plot = gr.Plot(label="Timeline: per-step probabilities", elem_id="timeline")
        table = gr.Dataframe(
            headers=TABLE_HEADERS,
            datatype=["number", "number", "str", "number", "str", "number"],
            interactive=False,
            label="Per step (2.97 s): top object and scene",
            elem_id="steps",
        )
        button.click(
            make_classifier(demo_model, top_k), inputs=[audio], outputs=[status, objects, scenes, plot, table]
        )
    return blocks


def load_demo(
    checkpoint: str | os.PathLike, *, device: str = "cpu", top_k: int = 5, examples: list[str] | None = None
):
    """[`build_demo`] for the checkpoint folder or Hub id `checkpoint` (loaded on `device`)."""
    return build_demo(DemoModel.load(checkpoint, device=device), top_k=top_k, examples=examples)


def page_theme():
    """Gradio's default theme with system fonts (the default one fetches its web fonts from the network)."""
    gr = _quiet_gradio()
    return gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )


def launch_demo(blocks, *, host: str = "127.0.0.1", port: int | None = None, share: bool = False, **kwargs):
    """Serves `blocks` (from [`build_demo`]) until interrupted; `kwargs` go to `gradio.Blocks.launch`."""
    return blocks.launch(
        server_name=host,
        server_port=port,
        share=share,
        inbrowser=False,
        show_error=True,
        theme=page_theme(),  # Gradio 6 takes the theme at launch()
        **kwargs,
    )


__all__ = ["INTRO", "NO_AUDIO", "TITLE", "build_demo", "launch_demo", "load_demo", "make_classifier", "page_theme"]
