#[tokentrace::workflow(capture_args = true)]
fn f() {}

fn main() {
    f();
}
