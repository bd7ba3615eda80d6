//! Hostile files and settings: each is refused with a diagnostic or a
//! usage error, never a crash, a hang or an unbounded allocation.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crieur_testing::{Killed, free_port, wait_every};

use crate::{NOW, stderr, temp_project};

/// Runs `crieur --root ROOT ARGS...` like [`crate::crieur`], killing it if
/// it is still running after a minute: a hang fails the test instead of
/// holding up the whole suite.
fn crieur_or_hang(root: &Path, args: &[&str]) -> Output {
    let mut child = crate::command(root)
        .args(args)
        .env("CRIEUR_NOW", NOW)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the crieur binary runs");
    let start = Instant::now();
    while child.try_wait().expect("waits").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().expect("kills");
            child.wait().expect("waits");
            panic!("crieur {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[cfg(unix)]
#[test]
fn a_fifo_or_a_socket_among_the_files_is_refused_without_hanging() {
    let project = temp_project("valid");
    let status = Command::new("mkfifo")
        .arg(project.path().join("posts/tube.md"))
        .arg(project.path().join("assets/icons/tube.png"))
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let _socket =
        std::os::unix::net::UnixListener::bind(project.path().join("posts/socket.md")).unwrap();
    let output = crieur_or_hang(project.path(), &["check"]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    for file in ["posts/tube.md", "posts/socket.md", "assets/icons/tube.png"] {
        assert!(errors.contains(file), "{file} in {errors}");
    }
    assert!(
        errors.contains("ce n'est pas un fichier ordinaire"),
        "{errors}"
    );
    // The other posts are drawn; the refused files are counted.
    let output = crieur_or_hang(project.path(), &["render", "--out", "out"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("2 posts non dessinés"),
        "{}",
        stderr(&output)
    );
    assert!(project.path().join("out/annonce.carre.png").is_file());
}

/// A greyscale PNG of `width` x `height` black pixels, one bit each: a
/// 20000x20000 one is a few hundred kilobytes.
fn black_png(width: u32, height: u32) -> Vec<u8> {
    use std::io::Write as _;
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().unwrap();
        let mut stream = writer.stream_writer().unwrap();
        let row = vec![0u8; width.div_ceil(8) as usize];
        for _ in 0..height {
            stream.write_all(&row).unwrap();
        }
        stream.finish().unwrap();
    }
    bytes
}

/// Only the header of a PNG of `width` x `height`: no pixel data at all.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        drop(encoder.write_header().unwrap());
    }
    bytes
}

/// The valid project, whose logo is `logos/geant.png`, drawn by the
/// template of the weekly figure.
fn project_with_logo(png: &[u8]) -> tempfile::TempDir {
    let project = temp_project("valid");
    std::fs::write(project.path().join("assets/logos/geant.png"), png).unwrap();
    let config = project.path().join("config/crieur.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "name = \"CPTS Mulhouse Agglomération\"\n",
        "name = \"CPTS Mulhouse Agglomération\"\nlogo = \"logos/geant.png\"\n",
    );
    std::fs::write(&config, text).unwrap();
    let template = project.path().join("assets/templates/chiffre.toml");
    let mut text = std::fs::read_to_string(&template).unwrap();
    text.push_str(
        "\n[[formats.carre.layers]]\nkind = \"image\"\nsrc = \"logos/geant.png\"\nx = 80\ny = 965\nwidth = 100\nheight = 100\n",
    );
    std::fs::write(&template, text).unwrap();
    project
}

#[test]
fn an_image_over_the_pixel_budget_is_refused_at_its_file_and_where_it_is_named() {
    let project = project_with_logo(&png_header(20_000, 20_000));
    let output = crieur_or_hang(project.path(), &["check"]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert!(
        errors.contains(
            "erreur : image trop grande : 20000x20000 pixels, soit 400 mégapixels (40 au plus)\n --> assets/logos/geant.png"
        ),
        "{errors}"
    );
    assert!(
        errors.contains("erreur : logo assets/logos/geant.png inutilisable : image trop grande")
            && errors.contains(" --> config/crieur.toml:5:8"),
        "{errors}"
    );
    assert!(
        errors.contains("erreur : image assets/logos/geant.png inutilisable : image trop grande")
            && errors.contains(" --> assets/templates/chiffre.toml:"),
        "{errors}"
    );
}

/// Runs crieur with at most 1 GiB of address space: decoding a
/// 20000x20000 image would need twice that.
#[cfg(unix)]
fn crieur_in_one_gibibyte(root: &Path, args: &[&str]) -> Output {
    crieur_testing::crieur_in("sh", root)
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_crieur"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("CRIEUR_NOW", NOW)
        .output()
        .expect("sh runs")
}

#[cfg(unix)]
#[test]
fn a_huge_image_is_refused_from_its_header_before_its_pixels_are_decoded() {
    // Used as the logo, and lying unused elsewhere under assets/.
    let huge = black_png(20_000, 20_000);
    let project = project_with_logo(&huge);
    std::fs::write(project.path().join("assets/icons/inutile.png"), &huge).unwrap();
    for args in [&["check"][..], &["render", "--out", "out"][..]] {
        let output = crieur_in_one_gibibyte(project.path(), args);
        let errors = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {errors}");
        assert!(
            errors.contains("image trop grande : 20000x20000 pixels"),
            "{args:?}: {errors}"
        );
    }
    // Without the logo, the unused image alone is an error at its file,
    // and costs no memory either.
    std::fs::remove_file(project.path().join("assets/logos/geant.png")).unwrap();
    let output = crieur_in_one_gibibyte(project.path(), &["check"]);
    let errors = stderr(&output);
    assert!(
        errors.contains("image trop grande : 20000x20000 pixels, soit 400 mégapixels (40 au plus)\n --> assets/icons/inutile.png"),
        "{errors}"
    );
}

/// The valid project with `logo = "<logo>"` under `[brand]`.
fn project_whose_logo_is(logo: &str) -> tempfile::TempDir {
    let project = temp_project("valid");
    let config = project.path().join("config/crieur.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "name = \"CPTS Mulhouse Agglomération\"\n",
        &format!("name = \"CPTS Mulhouse Agglomération\"\nlogo = \"{logo}\"\n"),
    );
    std::fs::write(&config, text).unwrap();
    project
}

#[test]
fn a_logo_outside_the_assets_folder_is_refused() {
    for logo in [
        "/etc/passwd",
        "../../../etc/shadow",
        "logos/../../config/crieur.toml",
    ] {
        let project = project_whose_logo_is(logo);
        let output = crieur_or_hang(project.path(), &["check"]);
        let errors = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{errors}");
        assert!(
            errors.contains(&format!(
                "erreur : logo `{logo}` : chemin hors du dossier assets/, refusé\n --> config/crieur.toml:5:8"
            )),
            "{errors}"
        );
    }
}

#[test]
fn a_text_box_without_line_height_and_with_a_huge_size_is_refused_not_an_abort() {
    let project = temp_project("valid");
    let template = project.path().join("assets/templates/chiffre.toml");
    let text = std::fs::read_to_string(&template).unwrap().replacen(
        "max_size = 220\nmax_lines = 2",
        "max_size = 1e9\nmax_lines = 2\nline_height = 0",
        1,
    );
    assert!(text.contains("line_height = 0"));
    std::fs::write(&template, text).unwrap();
    // A combining accent alone has no width: only the size limits it.
    let post = project.path().join("posts/chiffre/01-dmp.md");
    let text = std::fs::read_to_string(&post).unwrap();
    let start = text.find("number = ").unwrap();
    let end = start + text[start..].find('\n').unwrap();
    std::fs::write(
        &post,
        format!("{}number = \"\\u0301\"{}", &text[..start], &text[end..]),
    )
    .unwrap();
    for args in [&["check"][..], &["render", "--out", "out"][..]] {
        let output = crieur_or_hang(project.path(), args);
        let errors = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {errors}");
        assert!(
            errors.contains(
                "`line_height` vaut 0 : il doit être compris entre 0,5 et 3 fois la taille"
            ),
            "{args:?}: {errors}"
        );
        assert!(
            errors.contains("`max_size` vaut 1000000000 : il doit être compris entre 4 et 1080"),
            "{args:?}: {errors}"
        );
    }
}

/// `crieur preview` on a free port, stopped when dropped.
struct Preview {
    child: Killed,
    port: u16,
}

impl Preview {
    fn start(root: &Path, args: &[&str]) -> Preview {
        let port = free_port();
        let child = crate::command(root)
            .args(["preview", "--port", &port.to_string()])
            .args(args)
            .env("CRIEUR_NOW", NOW)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the crieur binary runs");
        let preview = Preview {
            child: Killed(child),
            port,
        };
        wait_every(
            Duration::from_millis(50),
            "the preview",
            Duration::from_secs(60),
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
        preview
    }

    /// Sends `request` as is; the status line and the body of the answer.
    fn send(&self, request: &[u8]) -> (String, Vec<u8>) {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        // The server may answer before it has read everything.
        let _ = stream.write_all(request);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no answer: {}", String::from_utf8_lossy(&answer)));
        let head = String::from_utf8_lossy(&answer[..split]).into_owned();
        let status = head.lines().next().unwrap_or_default().to_owned();
        (status, answer[split + 4..].to_vec())
    }

    fn get(&self, path: &str) -> (String, Vec<u8>) {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
    }

    /// Stops the server; what it wrote on standard error.
    fn stop(mut self) -> String {
        use std::io::Read as _;
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
        let mut errors = String::new();
        if let Some(mut stderr) = self.child.0.stderr.take() {
            let _ = stderr.read_to_string(&mut errors);
        }
        errors
    }
}

#[test]
fn the_preview_serves_no_file_outside_the_project_as_the_logo() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.png"), "secret").unwrap();
    let name = outside.path().file_name().unwrap().to_str().unwrap();
    let absolute = outside.path().join("secret.png");
    for logo in [
        absolute.to_str().unwrap().to_owned(),
        format!("../../{name}/secret.png"),
        "/etc/passwd".to_owned(),
    ] {
        let project = project_whose_logo_is(&logo);
        // The project's folder sits beside `outside`.
        let preview = Preview::start(project.path(), &[]);
        let (status, body) = preview.get("/logo.png");
        assert_eq!(status, "HTTP/1.1 404 Not Found", "{logo}");
        assert!(!String::from_utf8_lossy(&body).contains("secret"), "{logo}");
        assert!(!String::from_utf8_lossy(&body).contains("root:"), "{logo}");
    }
    let project = project_whose_logo_is("logos/cpts-mulhouse.png");
    let preview = Preview::start(project.path(), &[]);
    let (status, body) = preview.get("/logo.png");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(
        body,
        std::fs::read(project.path().join("assets/logos/cpts-mulhouse.png")).unwrap()
    );
}

#[test]
fn the_preview_warns_when_it_listens_beyond_this_computer() {
    let project = temp_project("valid");
    let preview = Preview::start(project.path(), &["--bind", "0.0.0.0"]);
    let errors = preview.stop();
    assert!(errors.contains("visible de tout le réseau"), "{errors}");
    let preview = Preview::start(project.path(), &[]);
    assert_eq!(preview.stop(), "");
}

#[test]
fn the_preview_refuses_a_huge_head_or_body_and_goes_on_serving() {
    let project = temp_project("valid");
    let preview = Preview::start(project.path(), &[]);
    let mut huge = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    huge.resize(300 * 1024, b'a');
    huge.extend_from_slice(b"\r\n\r\n");
    let (status, _) = preview.send(&huge);
    assert_eq!(status, "HTTP/1.1 431 Request Header Fields Too Large");
    let (status, _) = preview.send(
        b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 314572800\r\n\r\nsome of the body",
    );
    assert_eq!(status, "HTTP/1.1 413 Content Too Large");
    let (status, body) = preview.get("/");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(String::from_utf8_lossy(&body).contains("<html"));
}

#[test]
fn a_right_to_left_override_in_a_caption_is_a_warning_at_its_place() {
    let project = temp_project("valid");
    std::fs::write(
        project.path().join("posts/bidi.md"),
        "+++\ndraft = true\ntemplate = \"chiffre\"\nchannels = [\"facebook\"]\n[visual]\nnumber = \"1\"\ncaption = \"Un.\"\n+++\nInscrivez-vous sur https://cpts.fr/\u{202E}fdp.exe\n",
    )
    .unwrap();
    let output = crieur_or_hang(project.path(), &["check"]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{errors}");
    assert!(
        errors.contains(
            "avertissement : caractère de contrôle bidirectionnel U+202E (RIGHT-TO-LEFT OVERRIDE)"
        ) && errors.contains(" --> posts/bidi.md:9:36"),
        "{errors}"
    );
}
