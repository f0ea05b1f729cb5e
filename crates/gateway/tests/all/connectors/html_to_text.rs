//! HtmlToText: its custom code through a real gateway, against a loopback
//! backend that checks what it receives.

use super::*;

#[tokio::test]
async fn html_to_text_converts_html_without_calling_a_backend() {
    let gateway = serve("HtmlToText", Some("html-to-text-guest"), None, &[]).await;
    let html = concat!(
        "<div>Hello&nbsp;<b>world</b>&nbsp;\n</div>",
        "<TABLE><tr><td>cell<table><tr><td>inner</td></tr></table>after inner</td></tr></TABLE>",
        "<p>Fish &amp; chips &lt;3 &eacute;t&#233;</p><ul><li>one</li><li>two<br/>lines</li></ul>",
        "<script type=\"text/javascript\">alert('x')</script><style>p { color: red }</style>",
        "<hr>Bye",
    );
    let answer = gateway
        .send(
            "POST",
            "/apim/HtmlToText/c1/HtmlToText",
            &[("content-type", "application/json")],
            json!({"html": html}).to_string(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(answer.text(), "Hello\u{a0}world\n\n\nFish & chips <3 été\n\n\none\n\ntwo\nlines\n\n\nBye");
}

#[tokio::test]
async fn html_to_text_invalid_body_is_answered_400() {
    let gateway = serve("HtmlToText", Some("html-to-text-guest"), None, &[]).await;
    let answer =
        gateway.send("POST", "/apim/HtmlToText/c1/HtmlToText", &[("content-type", "application/json")], "<p>").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (400, "code-client-error"));
}
