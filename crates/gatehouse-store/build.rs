//! The migrations are embedded at compile time: a new or changed migration rebuilds the store.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
