"""Plaintexts the cipher tests share, written for them so that no language model has seen them."""

# A 400-letter paragraph: long enough for a homophonic cipher of 54 symbols to be broken.
LIGHTHOUSE = (
    "The lighthouse keeper kept a small notebook on the shelf beside the lamp. Every evening he wrote down the "
    "direction of the wind, the height of the waves and the names of the ships that passed the point before "
    "dark. Most nights there was little to record, but during the autumn storms the pages filled quickly, and "
    "he sometimes stayed awake until morning, watching the fishing boats fight their way back into the harbour "
    "against the rain. His daughter later gave the notebooks to the town museum, where visitors can still read "
    "them today."
)
