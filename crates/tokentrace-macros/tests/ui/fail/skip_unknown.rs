#[tokentrace::workflow(capture_args, skip(password))]
fn f(user: &str) -> usize {
    user.len()
}

fn main() {
    f("u");
}
