//! Log lines leave the calling thread through a bounded queue and one thread writes them to
//! stdout, several lines per `write` when they come fast. Writing each line from the thread that
//! logged it meant one system call per RPC under stdout's lock, shared by every runtime worker:
//! at 64 calls in flight that lock and those calls cost about half the server's throughput.
//!
//! Nothing is dropped: when the queue is full, the logging thread waits (back-pressure rather
//! than lost lines). A line is written as soon as the writer thread is free, so at low load logs
//! appear at once; `LogWriter::flush` waits until every line queued before it is written (done
//! at exit). A SIGKILL loses at most the lines still queued, as with any buffered output.
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};

use tracing_subscriber::fmt::MakeWriter;

/// Lines queued at most before a logging thread waits for the writer.
const QUEUE_LINES: usize = 16_384;

#[derive(Debug)]
enum Message {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
}

/// The `MakeWriter` of the log layer: each event's text is one queued line.
#[derive(Clone, Debug)]
pub struct LogWriter {
    queue: SyncSender<Message>,
}

impl LogWriter {
    /// Starts the writer thread over `out` (stdout in the server).
    pub fn spawn(out: impl Write + Send + 'static) -> io::Result<LogWriter> {
        let (queue, lines) = mpsc::sync_channel(QUEUE_LINES);
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_lines(lines, io::BufWriter::with_capacity(64 * 1024, out)))?;
        Ok(LogWriter { queue })
    }

    /// Returns once every line queued before this call has been written and flushed.
    pub fn flush(&self) {
        let (done, wait) = mpsc::sync_channel(1);
        if self.queue.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }
}

fn write_lines(lines: Receiver<Message>, mut out: impl Write) {
    // Blocks for the first line, then writes whatever else is queued before flushing once.
    while let Ok(first) = lines.recv() {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Line(line) => {
                    let _ = out.write_all(&line);
                }
                Message::Flush(done) => {
                    let _ = out.flush();
                    let _ = done.send(());
                }
            }
            // Empty or disconnected: flush what was written.
            next = lines.try_recv().ok();
        }
        let _ = out.flush();
    }
    let _ = out.flush();
}

/// One event's text, queued when the log layer is done writing it.
pub struct Line<'a> {
    text: Vec<u8>,
    queue: &'a SyncSender<Message>,
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        if !self.text.is_empty() {
            let _ = self
                .queue
                .send(Message::Line(std::mem::take(&mut self.text)));
        }
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            text: Vec::with_capacity(256),
            queue: &self.queue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A shared buffer standing for stdout.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_from_every_thread_is_written_whole_by_the_flush() {
        let out = Shared::default();
        let writer = LogWriter::spawn(out.clone()).expect("thread");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        let mut line = writer.make_writer();
                        // Written in pieces, as the log layer does.
                        write!(line, "thread {t} ").unwrap();
                        writeln!(line, "line {i}").unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        writer.flush();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8 * 5_000);
        for t in 0..8 {
            let mine: Vec<usize> = lines
                .iter()
                .filter_map(|l| l.strip_prefix(&format!("thread {t} line ")))
                .map(|n| n.parse().unwrap())
                .collect();
            // Whole lines, each thread's in its own order.
            assert_eq!(mine, (0..5_000).collect::<Vec<_>>());
        }
    }
}
