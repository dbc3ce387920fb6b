"""Trainer callback for the chapter's recipe with pretrained embeddings: train frozen for a while, then fine-tune."""

from transformers import TrainerCallback


class FreezeEmbeddingsCallback(TrainerCallback):
    """Keeps the model's input embeddings frozen for the first `frozen_epochs` epochs, then makes them trainable.

    Large early gradients from a randomly initialised head would damage pretrained embeddings; once the rest of the
    model has settled, the embeddings are fine-tuned for the task. The `Trainer` builds its optimizer before
    `on_train_begin`, with the embeddings still trainable, so they stay in the optimizer (and its learning-rate
    schedule) and simply receive no gradient while frozen. Resuming from a checkpoint restores the right state.

    Args:
        frozen_epochs: number of epochs during which the embeddings are frozen (0: never frozen).
    """

    def __init__(self, frozen_epochs: float = 1):
        if frozen_epochs < 0:
            raise ValueError(f"frozen_epochs must be >= 0, got {frozen_epochs!r}.")
        self.frozen_epochs = frozen_epochs

    def _set_trainable(self, model, epoch: float):
        model.get_input_embeddings().weight.requires_grad_(epoch >= self.frozen_epochs)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._set_trainable(model, state.epoch or 0.0)

    def on_epoch_begin(self, args, state, control, model=None, **kwargs):
        self._set_trainable(model, state.epoch or 0.0)


__all__ = ["FreezeEmbeddingsCallback"]
