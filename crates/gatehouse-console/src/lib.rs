//! Admin console and account pages. Empty until their issue is done.
