//! The git repository that holds the desired state.
