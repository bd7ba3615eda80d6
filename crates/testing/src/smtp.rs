//! `SmtpSink`, a local SMTP relay that keeps every message it receives.
//!
//! It speaks enough of RFC 5321 for a real client: the greeting, EHLO
//! (offering `AUTH PLAIN LOGIN` and no STARTTLS, as a plain local relay),
//! HELO, AUTH, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP and QUIT.
//! Each connection has its own thread. It can be told to refuse (a 421
//! greeting, as a relay that is down) or to hang (a greeting that never
//! comes), to test what a sender does then. Bodies and subjects are
//! decoded (quoted-printable, base64, RFC 2047 words) for the tests.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How the sink answers a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up = 0,
    /// `421`, then the connection closes.
    Refuse = 1,
    /// Accepts, then says nothing.
    Hang = 2,
}

/// One message received.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// What `AUTH` carried, decoded, if the client logged in.
    pub auth: Option<String>,
    /// The message as sent (headers, blank line, body).
    pub data: String,
}

impl Mail {
    /// A header's value, RFC 2047 words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.data.split_once("\r\n\r\n")?;
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| decode_words(value.trim()))
        })
    }

    /// The body, decoded as its `Content-Transfer-Encoding` says.
    pub fn body(&self) -> String {
        let body = self
            .data
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body);
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => base64(&body.replace("\r\n", "")),
            "quoted-printable" => quoted_printable(body),
            _ => body.as_bytes().to_vec(),
        };
        String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
    }
}

/// A local SMTP relay, stopped when dropped.
pub struct SmtpSink {
    address: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
    mode: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let mode = Arc::new(AtomicU8::new(Mode::Up as u8));
        let stop = Arc::new(AtomicBool::new(false));
        let (kept, told, stopped) = (mails.clone(), mode.clone(), stop.clone());
        let thread = thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (kept, mode) = (kept.clone(), told.load(Ordering::SeqCst));
                        thread::spawn(move || serve(stream, mode, &kept));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        SmtpSink {
            address,
            mails,
            mode,
            stop,
            thread: Some(thread),
        }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    /// Every message received so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, mode: u8, mails: &Mutex<Vec<Mail>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut writer = match stream.try_clone() {
        Ok(writer) => writer,
        Err(_) => return,
    };
    if mode == Mode::Hang as u8 {
        thread::sleep(Duration::from_secs(30));
        return;
    }
    if mode == Mode::Refuse as u8 {
        let _ = writer.write_all(b"421 4.3.2 service indisponible\r\n");
        return;
    }
    let mut reader = BufReader::new(stream);
    let mut say = |text: &str| writer.write_all(text.as_bytes()).is_ok();
    say("220 sink ESMTP\r\n");
    let mut mail = Mail {
        from: String::new(),
        to: Vec::new(),
        auth: None,
        data: String::new(),
    };
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let answer = match verb.as_str() {
            "EHLO" => "250-sink\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n".to_owned(),
            "HELO" | "RSET" | "NOOP" => "250 ok\r\n".to_owned(),
            "AUTH" => {
                let given = command.split_whitespace().nth(2).unwrap_or_default();
                mail.auth = Some(String::from_utf8_lossy(&base64(given)).into_owned());
                "235 2.7.0 ok\r\n".to_owned()
            }
            "MAIL" => {
                mail.from = address(&command);
                "250 ok\r\n".to_owned()
            }
            "RCPT" => {
                mail.to.push(address(&command));
                "250 ok\r\n".to_owned()
            }
            "DATA" => {
                if !say("354 go ahead\r\n") {
                    return;
                }
                mail.data = read_data(&mut reader);
                mails.lock().unwrap().push(mail.clone());
                mail.to.clear();
                "250 2.0.0 kept\r\n".to_owned()
            }
            "QUIT" => {
                say("221 bye\r\n");
                return;
            }
            _ => "502 5.5.1 unknown command\r\n".to_owned(),
        };
        if !say(&answer) {
            return;
        }
    }
}

/// What `DATA` carries, up to the line holding a single dot.
fn read_data(reader: &mut BufReader<TcpStream>) -> String {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == ".\r\n" {
            return data;
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
    }
}

fn address(command: &str) -> String {
    let start = command.find('<').map_or(0, |at| at + 1);
    let end = command.rfind('>').unwrap_or(command.len());
    command.get(start..end).unwrap_or_default().to_owned()
}

fn base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for byte in text.bytes() {
        let Some(value) = ALPHABET.iter().position(|c| *c == byte) else {
            continue;
        };
        buffer = (buffer << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

fn quoted_printable(text: &str) -> Vec<u8> {
    let text = text.replace("=\r\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[index], hex) {
            (b'=', Some(value)) => {
                out.push(value);
                index += 3;
            }
            (byte, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    out
}

/// A header's value with its RFC 2047 encoded words decoded (and the
/// spaces between two such words dropped, as the RFC says).
fn decode_words(value: &str) -> String {
    let mut out = Vec::new();
    let mut previous_encoded = false;
    for (index, word) in value.split(' ').enumerate() {
        let decoded = word
            .strip_prefix("=?")
            .and_then(|w| w.strip_suffix("?="))
            .and_then(|w| {
                let mut parts = w.splitn(3, '?');
                let (_, kind, text) = (parts.next()?, parts.next()?, parts.next()?);
                Some(match kind.to_ascii_lowercase().as_str() {
                    "b" => base64(text),
                    _ => quoted_printable(&text.replace('_', " ")),
                })
            });
        match decoded {
            Some(bytes) => {
                if index > 0 && !previous_encoded {
                    out.push(b' ');
                }
                out.extend(bytes);
                previous_encoded = true;
            }
            None => {
                if index > 0 {
                    out.push(b' ');
                }
                out.extend(word.as_bytes());
                previous_encoded = false;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_mail_clients_encode() {
        assert_eq!(base64("w6l0w6k="), "été".as_bytes());
        assert_eq!(quoted_printable("=C3=A9t=C3=\r\n=A9"), "été".as_bytes());
        assert_eq!(
            decode_words("=?utf-8?b?Y3JpZXVyIDog?= =?utf-8?b?w6l0w6k=?= fin"),
            "crieur : été fin"
        );
    }
}
