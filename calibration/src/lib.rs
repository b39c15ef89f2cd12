//! Clip sets and the synthetic fine-grained gym.
