"""Console entry points.

`rnnformers-generate FOLDER_OR_REPO --prompt "To be or not to b" [--do_sample --temperature 0.6 --top_k 20 --top_p 0.9
--num_beams 5 --num_return_sequences 3 --max_new_tokens 300 --seed 42 --dtype int8]` samples text from a saved causal LM.
"""

import argparse
import logging

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed


logger = logging.getLogger("rnnformers")


def build_generate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnformers-generate", description="Generate text from a saved rnnformers causal language model."
    )
    parser.add_argument("model", help="A saved model folder or a Hub repository id.")
    parser.add_argument("--prompt", action="append", required=True, help="Prompt text; repeat for a batch.")
    parser.add_argument("--max_new_tokens", type=int, default=200)
    parser.add_argument("--do_sample", action="store_true", help="Sample instead of greedy / beam search.")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top_k", type=int, default=None, help="Sample among the k most likely tokens only.")
    parser.add_argument("--top_p", type=float, default=None, help="Nucleus sampling threshold.")
    parser.add_argument("--num_beams", type=int, default=1)
    parser.add_argument("--num_return_sequences", type=int, default=1)
    parser.add_argument("--seed", type=int, default=None, help="Random seed, for reproducible sampling.")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu (cpu for --dtype int8)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "int8"), default="float32",
                        help="bfloat16 weights (fast on CPUs with AMX / AVX-512 BF16), or int8 recurrent and linear "
                             "layers (rnnformers.quantization, CPU only)")
    parser.add_argument("--trust_remote_code", action="store_true", help="Needed for Hub repos without rnnformers.")
    return parser


def generate_texts(model, tokenizer, prompts: list[str], **generation_kwargs) -> list[str]:
    """Generates a continuation of each prompt (a left-padded batch) and returns prompt + continuation texts."""
    if not prompts or any(not isinstance(p, str) or p == "" for p in prompts):
        raise ValueError("every prompt must be a non-empty string: a char-RNN needs at least one character to start.")
    inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    unk_id = tokenizer.unk_token_id
    if unk_id is not None and bool((inputs["input_ids"] == unk_id).any()):
        logger.warning("some prompt characters are not in the model's vocabulary: they are read as %s.",
                       tokenizer.unk_token)
    with torch.no_grad():
        output = model.generate(**inputs, pad_token_id=tokenizer.pad_token_id, **generation_kwargs)
    return tokenizer.batch_decode(output, skip_special_tokens=True)


def generate_main(argv: list[str] | None = None) -> None:
    parser = build_generate_parser()
    args = parser.parse_args(argv)
    if args.top_p is not None and not 0 < args.top_p <= 1:
        parser.error(f"--top_p must be in (0, 1], got {args.top_p}.")
    if args.temperature <= 0:
        parser.error(f"--temperature must be positive, got {args.temperature}.")
    if args.top_k is not None and args.top_k < 0:
        parser.error(f"--top_k must be at least 0, got {args.top_k}.")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    import rnnformers  # noqa: F401  (registers the rnnformers models with the Auto classes)
    from rnnformers.quantization import for_inference, loading_dtype
    from rnnformers.training.lifecycle import load_pretrained

    if args.seed is not None:
        set_seed(args.seed)
    tokenizer = load_pretrained(AutoTokenizer, args.model, "model", trust_remote_code=args.trust_remote_code)
    if args.device is None:
        args.device = "cpu" if args.dtype == "int8" or not torch.cuda.is_available() else "cuda"
    if args.dtype == "int8" and args.device != "cpu":
        parser.error(f"--dtype int8 runs on the CPU only, got --device {args.device}.")
    model = load_pretrained(AutoModelForCausalLM, args.model, "model", trust_remote_code=args.trust_remote_code,
                            dtype=loading_dtype(args.dtype))
    model = for_inference(model.to(args.device).eval(), args.dtype)
    generation_kwargs = {
        "max_new_tokens": args.max_new_tokens,
        "do_sample": args.do_sample,
        "num_beams": args.num_beams,
        "num_return_sequences": args.num_return_sequences,
    }
    if args.do_sample:
        generation_kwargs.update(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p)
    texts = generate_texts(model, tokenizer, args.prompt, **generation_kwargs)
    for i, text in enumerate(texts):
        if len(texts) > 1:
            print(f"=== {i} ===")
        print(text)


if __name__ == "__main__":
    generate_main()
