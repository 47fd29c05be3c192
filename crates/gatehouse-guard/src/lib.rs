//! Resource-server guard library (G1–G4). Empty until its issue is done.
