"""Fine-tuning a pretrained model with the Trainer: the chapter's frozen-then-fine-tuned embeddings, and ULMFiT's
gradual unfreezing and discriminative learning rates (Howard & Ruder, 2018) for a backbone pretrained as a language
model."""

import torch
from torch import nn
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


def top_down_layer_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """The model's trainable parts from the output down: the head (every parameter outside the base model), then each
    recurrent layer of the base model from the top (`base_model.rnn.layers`), then the rest of the base model (the
    embeddings). Groups of rnnformers' recurrent families; what ULMFiT unfreezes and scales one by one."""
    base = model.base_model
    layers = getattr(getattr(base, "rnn", None), "layers", None)
    if base is model or layers is None:
        raise ValueError(f"{type(model).__name__} has no head over a recurrent base model with `rnn.layers`.")
    base_ids = {id(p) for p in base.parameters()}
    groups = [[p for p in model.parameters() if id(p) not in base_ids]]
    groups += [list(layer.parameters()) for layer in reversed(layers)]
    grouped = {id(p) for group in groups for p in group}
    groups.append([p for p in base.parameters() if id(p) not in grouped])
    return groups


class GradualUnfreezingCallback(TrainerCallback):
    """ULMFiT's gradual unfreezing: the new head trains alone for `epochs_per_group` epochs, then the top recurrent
    layer joins it, then the next one down, ..., the embeddings last (`top_down_layer_groups`).

    A pretrained backbone under a randomly initialised head would otherwise take the head's large early gradients.
    The optimizer holds every parameter from the start (the Trainer builds it before `on_train_begin`); a frozen one
    just gets no gradient. Checked at every step, so fractions of an epoch work, and a resumed run freezes what the
    interrupted one had frozen at that point.

    Args:
        epochs_per_group: epochs between two unfreezings (> 0).
    """

    def __init__(self, epochs_per_group: float = 1.0):
        if not epochs_per_group > 0:
            raise ValueError(f"epochs_per_group must be > 0, got {epochs_per_group!r}.")
        self.epochs_per_group = epochs_per_group

    def trainable_groups(self, epoch: float) -> int:
        return 1 + int(epoch // self.epochs_per_group)

    def _apply(self, model, epoch: float):
        trainable = self.trainable_groups(epoch)
        for depth, group in enumerate(top_down_layer_groups(model)):
            for param in group:
                param.requires_grad_(depth < trainable)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._apply(model, state.epoch or 0.0)

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        self._apply(model, state.epoch or 0.0)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        for param in model.parameters():  # the saved model is a normal, trainable one
            param.requires_grad_(True)


def discriminative_optimizer(model: nn.Module, args, decay: float) -> torch.optim.AdamW:
    """AdamW (with the TrainingArguments' betas, epsilon and weight decay) in which each group of
    `top_down_layer_groups` learns `decay` times slower than the one above it: the head at `args.learning_rate`, the
    top recurrent layer at `learning_rate / decay`, ... (ULMFiT's discriminative fine-tuning, `decay` = 2.6). The
    Trainer's learning-rate schedule scales every group alike. Biases and other vectors get no weight decay."""
    if not decay >= 1:
        raise ValueError(f"the learning-rate decay per layer must be >= 1, got {decay!r}.")
    param_groups = []
    for depth, group in enumerate(top_down_layer_groups(model)):
        learning_rate = args.learning_rate / decay**depth
        for decayed in (True, False):
            params = [p for p in group if (p.ndim >= 2) == decayed]
            if params:
                param_groups.append({"params": params, "lr": learning_rate,
                                     "weight_decay": args.weight_decay if decayed else 0.0})
    return torch.optim.AdamW(param_groups, lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2),
                             eps=args.adam_epsilon)


__all__ = ["FreezeEmbeddingsCallback", "GradualUnfreezingCallback", "discriminative_optimizer",
           "top_down_layer_groups"]
