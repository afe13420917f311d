# Build Integritas Desktop for Windows: the PyInstaller one-folder bundle, proven, and an installer.
#
#   pwsh packaging/build_windows.ps1            # build venv in build\venv-windows (created on first use)
#   pwsh packaging/build_windows.ps1 -System    # use the current python as is
#
# Steps (each one stops the build when it fails):
#   1. venv: pip install the project and PyInstaller (skipped with -System)
#   2. PyInstaller with packaging/integritas.spec  ->  dist\integritas\{integritas-gui.exe,integritas.exe}
#   3. packaging/smoke_frozen.py: --version, --smoke-test offscreen, CLI hash vs hashlib/openssl
#   4. code signing of the two programs, ONLY when WINDOWS_CERT_PFX_BASE64 (a base64 .pfx) is set,
#      with WINDOWS_CERT_PASSWORD; the certificate goes to the user's store, never to a file or log
#   5. Inno Setup (ISCC.exe: PATH, INNO_SETUP_DIR, or the default install folder)
#      -> dist\IntegritasDesktop-<version>-windows-x64-setup.exe (setup and uninstaller signed as in 4)
param([switch]$System)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Root = (Resolve-Path (Join-Path $PSScriptRoot '..')).Path
Set-Location $Root
$Dist = Join-Path $Root 'dist'
$Bundle = Join-Path $Dist 'integritas'
$Work = Join-Path $Root 'build'

function Step($text) { Write-Host "`n==> $text" }
# Runs a program and stops on a non-zero exit (a simple function: `-m` and such reach the program).
function Run {
    $Exe, $Rest = $args
    & $Exe @Rest
    if ($LASTEXITCODE -ne 0) { throw "$Exe exited $LASTEXITCODE" }
}

$Version = (Select-String -Path 'integritas_gui\__init__.py' -Pattern '^__version__\s*=\s*[''"]([^''"]+)[''"]').Matches[0].Groups[1].Value
if (-not $Version) { throw 'no __version__ in integritas_gui\__init__.py' }
$Start = Get-Date

# --- 1. build environment
if ($System) {
    $Py = (Get-Command python).Source
    Step "Using the current Python: $Py"
} else {
    $Venv = Join-Path $Work 'venv-windows'
    $Py = Join-Path $Venv 'Scripts\python.exe'
    if (-not (Test-Path $Py)) {
        Step "Creating build venv $Venv"
        Run python -m venv $Venv
    }
    Step 'Installing the project and PyInstaller into the build venv'
    Run $Py -m pip install -q --upgrade pip
    Run $Py -m pip install -q "$Root[packaging]"
}

# --- 2. PyInstaller
Step "PyInstaller (one-folder) -> $Bundle"
Run $Py -m PyInstaller --noconfirm --clean --log-level WARN --distpath $Dist --workpath (Join-Path $Work 'pyinstaller') packaging\integritas.spec

# --- 3. smoke tests
Step 'Smoke test of the frozen build'
Run $Py packaging\smoke_frozen.py $Bundle

# --- 4. signing (only with a certificate)
$SignCommand = $null
if ($env:WINDOWS_CERT_PFX_BASE64) {
    Step 'Signing with the certificate from WINDOWS_CERT_PFX_BASE64'
    $SignTool = (Get-Command signtool.exe -ErrorAction SilentlyContinue).Source
    if (-not $SignTool) {
        $SignTool = Get-ChildItem "${env:ProgramFiles(x86)}\Windows Kits\10\bin\*\x64\signtool.exe" |
            Sort-Object FullName -Descending | Select-Object -First 1 -ExpandProperty FullName
    }
    if (-not $SignTool) { throw 'signtool.exe not found (Windows SDK)' }
    $PfxPath = Join-Path ([System.IO.Path]::GetTempPath()) ("integritas-" + [guid]::NewGuid() + '.pfx')
    try {
        [System.IO.File]::WriteAllBytes($PfxPath, [Convert]::FromBase64String($env:WINDOWS_CERT_PFX_BASE64))
        $Password = ConvertTo-SecureString -String ($env:WINDOWS_CERT_PASSWORD ?? '') -AsPlainText -Force
        $Cert = Import-PfxCertificate -FilePath $PfxPath -CertStoreLocation Cert:\CurrentUser\My -Password $Password
    } finally {
        Remove-Item -Force -ErrorAction SilentlyContinue $PfxPath
    }
    $Thumb = $Cert.Thumbprint
    $TimestampUrl = if ($env:WINDOWS_TIMESTAMP_URL) { $env:WINDOWS_TIMESTAMP_URL } else { 'http://timestamp.digicert.com' }
    $SignArgs = @('sign', '/sha1', $Thumb, '/fd', 'SHA256', '/tr', $TimestampUrl, '/td', 'SHA256')
    Run $SignTool @SignArgs (Join-Path $Bundle 'integritas-gui.exe') (Join-Path $Bundle 'integritas.exe')
    $SignCommand = "`"$SignTool`" $($SignArgs -join ' ') `$f"
} else {
    Write-Host 'WINDOWS_CERT_PFX_BASE64 not set: the programs and the installer stay unsigned'
}

# --- 5. Inno Setup
Step 'Inno Setup installer'
$Iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $Iscc) {
    foreach ($dir in @($env:INNO_SETUP_DIR, "${env:ProgramFiles(x86)}\Inno Setup 6", "$env:ProgramFiles\Inno Setup 6")) {
        if ($dir -and (Test-Path (Join-Path $dir 'ISCC.exe'))) { $Iscc = Join-Path $dir 'ISCC.exe'; break }
    }
}
if (-not $Iscc) { throw 'ISCC.exe not found: install Inno Setup 6 (choco install innosetup) or set INNO_SETUP_DIR' }
$IsccArgs = @("/DAppVersion=$Version", "/DBundleDir=$Bundle", "/DOutputDir=$Dist", "/DRepoRoot=$Root", '/Q')
if ($SignCommand) { $IsccArgs += @('/DSignCommand', "/Sintegritas=$SignCommand") }
Run $Iscc @IsccArgs packaging\windows\integritas.iss
$Setup = Join-Path $Dist "IntegritasDesktop-$Version-windows-x64-setup.exe"
if (-not (Test-Path $Setup)) { throw "Inno Setup made no $Setup" }

# --- sizes
$BundleBytes = (Get-ChildItem -Recurse -File $Bundle | Measure-Object -Property Length -Sum).Sum
$SetupBytes = (Get-Item $Setup).Length
Step 'Sizes'
'one-folder build  dist\integritas: {0:N1} MB' -f ($BundleBytes / 1MB)
'installer         {0}: {1:N1} MB' -f (Split-Path -Leaf $Setup), ($SetupBytes / 1MB)
'the whole build took {0:N0}s' -f ((Get-Date) - $Start).TotalSeconds
