//! The moto gateway (`devenv/moto_gateway.py`) as a test fixture: a private
//! AWS emulator on a free loopback port, stopped when the fixture drops.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

use gcops::live::{AwsSettings, ClientFactory};

/// Region the tests use for regional services.
pub const REGION: &str = "ap-northeast-1";

/// How long the gateway may take to start, including moto's imports.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Serialises `scripts/setup-moto` between tests of one binary.
static SETUP: Mutex<()> = Mutex::new(());

/// A running moto gateway; the process is killed on drop.
pub struct MotoGateway {
    child: Child,
    port: u16,
    endpoint_url: String,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl MotoGateway {
    /// Installs moto into `.venv` if needed, starts the gateway on a free
    /// loopback port and waits until it accepts connections.
    ///
    /// Panics with the gateway's log when it does not start.
    pub fn start() -> MotoGateway {
        MotoGateway::start_with(&[])
    }

    /// Like [`MotoGateway::start`] with extra gateway arguments, such as
    /// `["--delay-ms", "50"]` to slow every request down.
    pub fn start_with(args: &[&str]) -> MotoGateway {
        let root = repo_root();
        ensure_moto_installed(&root);

        let dir = tempfile::tempdir().expect("create temporary folder for the moto gateway");
        let port_file = dir.path().join("port");
        let log_path = dir.path().join("gateway.log");
        let log = std::fs::File::create(&log_path).expect("create moto gateway log file");

        let child = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("devenv/moto_gateway.py"))
            .arg("--port-file")
            .arg(&port_file)
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log file handle"))
            .stderr(log)
            .spawn()
            .expect("spawn .venv/bin/python devenv/moto_gateway.py");

        let mut gateway = MotoGateway { child, port: 0, endpoint_url: String::new(), log_path, _dir: dir };
        gateway.port = gateway.wait_for_port(&port_file);
        gateway.endpoint_url = format!("http://127.0.0.1:{}", gateway.port);
        gateway.wait_until_answering();
        gateway
    }

    /// `http://127.0.0.1:<port>`, for `endpoint_url` settings.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns the gateway's output so far (moto's request log and tracebacks).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// SDK configuration for this gateway with the management account's test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config(&self.endpoint_url, REGION).await
    }

    /// SDK configuration whose credentials are an assumed role in `account_id`;
    /// moto keeps each account's resources apart by these credentials.
    pub async fn account_sdk_config(&self, account_id: &str) -> SdkConfig {
        let base = self.sdk_config().await;
        let factory = ClientFactory::with_base_config(self.settings(), base);
        factory.account_config(account_id).await.expect("build member account configuration")
    }

    /// Settings that point the client factory at this gateway, without retries.
    pub fn settings(&self) -> AwsSettings {
        AwsSettings {
            regions: vec![REGION.to_string()],
            role_name: "GcopsReadOnly".to_string(),
            endpoint_url: Some(self.endpoint_url.clone()),
            max_attempts: 1,
            assume_role: true,
        }
    }

    /// Builds a client factory for this gateway with the test credentials.
    pub async fn client_factory(&self) -> ClientFactory {
        ClientFactory::with_base_config(self.settings(), self.sdk_config().await)
    }

    /// Clears every account's state in moto (`POST /moto-api/reset`).
    pub fn reset(&self) {
        let status = http_post(self.port, "/moto-api/reset");
        assert_eq!(status, 200, "moto reset returned HTTP {status}");
    }

    fn wait_for_port(&mut self, port_file: &Path) -> u16 {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(text) = std::fs::read_to_string(port_file)
                && let Ok(port) = text.trim().parse::<u16>()
            {
                return port;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("moto gateway exited with {status} before listening; log:\n{}", self.log());
            }
            if Instant::now() > deadline {
                panic!("moto gateway did not listen within {START_TIMEOUT:?}; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_until_answering(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("moto gateway on port {} did not accept connections; log:\n{}", self.port, self.log());
    }
}

impl Drop for MotoGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SDK configuration for a moto endpoint: static test credentials (moto's
/// default account 123456789012), one attempt per call, no profile files.
pub async fn sdk_config(endpoint_url: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint_url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto-test"))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .load()
        .await
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `scripts/setup-moto` unless `.venv` can already import moto and cbor2.
fn ensure_moto_installed(root: &Path) {
    let _guard = SETUP.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let python = root.join(".venv/bin/python");
    let installed = Command::new(&python)
        .args(["-c", "import moto.server, cbor2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false);
    if installed {
        return;
    }

    let status =
        Command::new("bash").arg(root.join("scripts/setup-moto")).current_dir(root).status().expect("run scripts/setup-moto");
    assert!(status.success(), "scripts/setup-moto failed with {status}");
}

/// Sends a bodiless POST on loopback and returns the HTTP status code.
fn http_post(port: u16, path: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to moto gateway");
    write!(stream, "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .expect("send request to moto gateway");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read moto gateway response");
    response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}
