"""Whole models composed from tinybt.nn layers: encoder, projector, Barlow Twins, dual encoder.

All parameters of a model live in one flat dict with PyTorch state_dict names
("item_emb.weight", "gru.weight_ih_l0", "projector.0.weight", ...), so a port
can `load_state_dict` them directly.
"""
