#[tokentrace::workflow(colour = "red")]
fn f() {}

fn main() {
    f();
}
