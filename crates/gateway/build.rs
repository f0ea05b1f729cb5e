//! The migrations are compiled in (`sqlx::migrate!`): a change to one must
//! rebuild the crate.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
