"""A linear-chain CRF over a sentence's words (Lafferty et al. 2001; Lample et al. 2016's
BiLSTM-CRF): a tag sequence y of emissions e scores

    start[y_1] + sum_t e_t[y_t] + sum_t trans[y_t-1, y_t] + end[y_n]

and training minimises -log p(gold) = log Z - score(gold), Z summed over every sequence by
the forward algorithm.  Decoding is Viterbi (:mod:`xlmr_user.modules.tag_decoding`) with the
same scores.  Transitions the tag scheme forbids are added as ``FORBIDDEN`` in training and
minus infinity in decoding, so no probability goes to sequences that cannot be decoded.
"""
import torch

FORBIDDEN = -1e4  # finite: a padded step of the forward algorithm must stay a number


def crf_nll(emissions, tags, mask, start, trans, end):
    """(B,) negative log-likelihoods of the gold ``tags`` (B, W) under (B, W, K) ``emissions``;
    ``mask`` (B, W) marks each sentence's words (a prefix, at least one)."""
    b = torch.arange(emissions.size(0), device=emissions.device)
    emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, W)
    steps = (trans[tags[:, :-1], tags[:, 1:]] + emitted[:, 1:]) * mask[:, 1:]  # (B, W-1)
    last = tags[b, mask.sum(1) - 1]
    gold = start[tags[:, 0]] + emitted[:, 0] + steps.sum(1) + end[last]
    alpha = start + emissions[:, 0]  # (B, K): log-sum of the paths ending in each label
    for t in range(1, emissions.size(1)):
        step = torch.logsumexp(alpha.unsqueeze(2) + trans + emissions[:, t].unsqueeze(1), dim=1)
        alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
    return torch.logsumexp(alpha + end, dim=1) - gold
