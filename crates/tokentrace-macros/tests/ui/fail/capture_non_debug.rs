struct Secret;

#[tokentrace::workflow(capture_args)]
fn f(s: Secret) {
    let _ = s;
}

fn main() {
    f(Secret);
}
