"""The tagger's CRF, batched over sentences, against the seed's Bi-LSTM CRF algorithms (one sentence at a time, a
Python loop over tags at every word), on the same scores: log-partition (the loss's forward algorithm, with its
backward pass) and Viterbi decoding. Also checks that both give the same numbers.

    OMP_NUM_THREADS=1 python benchmarks/bench_tagger.py --sentences 64 --length 20 --labels 17 --repeats 3
"""

import argparse
import time

import torch

from rnnformers.models.rnn_tagger.modeling_rnn_tagger import LinearChainCRF


def seed_forward_algorithm(crf: LinearChainCRF, emissions: torch.Tensor) -> torch.Tensor:
    """The seed's `_forward_alg` for one sentence ([length, labels]), with our start/end scores in place of its
    START/STOP tags: a loop over words and, inside, over next tags."""
    forward_var = (crf.start_transitions + emissions[0]).view(1, -1)
    for feat in emissions[1:]:
        alphas_t = []
        for next_tag in range(crf.num_labels):
            next_tag_var = forward_var + crf.transitions[:, next_tag].view(1, -1) + feat[next_tag]
            alphas_t.append(torch.logsumexp(next_tag_var, dim=1).view(1))
        forward_var = torch.cat(alphas_t).view(1, -1)
    return torch.logsumexp(forward_var + crf.end_transitions, dim=1)[0]


def seed_viterbi(crf: LinearChainCRF, emissions: torch.Tensor) -> list[int]:
    """The seed's `_viterbi_decode` for one sentence: back-pointers by a Python loop over next tags."""
    forward_var = (crf.start_transitions + emissions[0]).view(1, -1)
    backpointers = []
    for feat in emissions[1:]:
        bptrs_t, viterbivars_t = [], []
        for next_tag in range(crf.num_labels):
            next_tag_var = forward_var + crf.transitions[:, next_tag].view(1, -1)
            best_tag_id = int(next_tag_var.argmax())
            bptrs_t.append(best_tag_id)
            viterbivars_t.append(next_tag_var[0][best_tag_id].view(1))
        forward_var = (torch.cat(viterbivars_t) + feat).view(1, -1)
        backpointers.append(bptrs_t)
    best_tag_id = int((forward_var + crf.end_transitions).argmax())
    best_path = [best_tag_id]
    for bptrs_t in reversed(backpointers):
        best_tag_id = bptrs_t[best_tag_id]
        best_path.append(best_tag_id)
    return best_path[::-1]


def timed(function, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--length", type=int, default=20, help="longest sentence; lengths are spread up to it")
    parser.add_argument("--labels", type=int, default=17, help="17 = the UPOS tag set")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    torch.manual_seed(0)
    crf = LinearChainCRF(args.labels)
    for parameter in crf.parameters():
        torch.nn.init.normal_(parameter)
    lengths = torch.randint(max(1, args.length // 2), args.length + 1, (args.sentences,))
    emissions = torch.randn(args.sentences, args.length, args.labels, requires_grad=True)
    step_mask = torch.arange(args.length).unsqueeze(0) < lengths.unsqueeze(1)

    # Same numbers first.
    ours = crf.log_partition(emissions, step_mask)
    seed = torch.stack([seed_forward_algorithm(crf, emissions[i, :n]) for i, n in enumerate(lengths.tolist())])
    torch.testing.assert_close(ours, seed, rtol=1e-4, atol=1e-4)
    paths = crf.decode(emissions.detach(), step_mask)
    for i, n in enumerate(lengths.tolist()):
        assert paths[i, :n].tolist() == seed_viterbi(crf, emissions.detach()[i, :n])

    def batched_loss():
        crf.log_partition(emissions, step_mask).sum().backward()

    def seed_loss():
        sum(seed_forward_algorithm(crf, emissions[i, :n]) for i, n in enumerate(lengths.tolist())).backward()

    def batched_decode():
        with torch.no_grad():
            crf.decode(emissions, step_mask)

    def seed_decode():
        with torch.no_grad():
            for i, n in enumerate(lengths.tolist()):
                seed_viterbi(crf, emissions[i, :n])

    print(f"{args.sentences} sentences of {int(lengths.min())}-{int(lengths.max())} words, {args.labels} labels, "
          f"torch threads {torch.get_num_threads()}, best of {args.repeats}")
    for name, ours_fn, seed_fn in (("log-partition + backward", batched_loss, seed_loss),
                                   ("Viterbi decoding", batched_decode, seed_decode)):
        ours_time, seed_time = timed(ours_fn, args.repeats), timed(seed_fn, args.repeats)
        print(f"{name:26s} batched {ours_time * 1e3:8.1f} ms   seed {seed_time * 1e3:9.1f} ms   "
              f"speed-up x{seed_time / ours_time:.0f}")


if __name__ == "__main__":
    main()
