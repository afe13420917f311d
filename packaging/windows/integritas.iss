; Inno Setup 6 script: the Windows installer for Integritas Desktop.
; Built by packaging/build_windows.ps1, which passes the defines below:
;   iscc /DAppVersion=0.1.0 /DBundleDir=dist\integritas /DOutputDir=dist /DRepoRoot=. packaging\windows\integritas.iss
;   (+ /DSignCommand /Sintegritas="signtool sign ... $f" when a signing certificate is available)
; Installs per user without admin rights by default (the setup offers "for all users" too), adds a
; Start-menu entry and an uninstaller (Settings > Apps). The CLI, integritas.exe, sits next to the app.

#ifndef AppVersion
  #error Pass /DAppVersion=<version> (packaging/build_windows.ps1 does)
#endif
#ifndef BundleDir
  #define BundleDir "..\..\dist\integritas"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#ifndef RepoRoot
  #define RepoRoot "..\.."
#endif
#define AppName "Integritas Desktop"
#define AppExe "integritas-gui.exe"

[Setup]
; AppId identifies the installation for upgrades and the uninstaller: never change it.
AppId={{6C0D5E0B-3B7A-4F47-9C1E-2E7B1F3A9D41}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Integritas
AppPublisherURL=https://integritas.technology/
AppSupportURL=https://integritas.technology/
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename=IntegritasDesktop-{#AppVersion}-windows-x64-setup
SetupIconFile={#RepoRoot}\resources\icon.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
Compression=lzma2/ultra64
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes
#ifdef SignCommand
; Defined only when a code-signing certificate is available: signs the setup and its uninstaller.
SignTool=integritas
SignedUninstaller=yes
#endif

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Timestamp files and verify them later"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; Explorer's context menu on files (*) and folders (Directory): "Stamp with Integritas" and "Verify
; with Integritas" run the app with --stamp / --verify. HKA is the current user's classes for a
; per-user install, the machine's for "all users"; the uninstaller removes the keys.
Root: HKA; Subkey: "Software\Classes\*\shell\IntegritasStamp"; ValueType: string; ValueName: ""; ValueData: "Stamp with Integritas"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\*\shell\IntegritasStamp"; ValueType: string; ValueName: "Icon"; ValueData: """{app}\{#AppExe}"",0"
Root: HKA; Subkey: "Software\Classes\*\shell\IntegritasStamp\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" --stamp ""%1"""
Root: HKA; Subkey: "Software\Classes\*\shell\IntegritasVerify"; ValueType: string; ValueName: ""; ValueData: "Verify with Integritas"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\*\shell\IntegritasVerify"; ValueType: string; ValueName: "Icon"; ValueData: """{app}\{#AppExe}"",0"
Root: HKA; Subkey: "Software\Classes\*\shell\IntegritasVerify\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" --verify ""%1"""
Root: HKA; Subkey: "Software\Classes\Directory\shell\IntegritasStamp"; ValueType: string; ValueName: ""; ValueData: "Stamp with Integritas"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Directory\shell\IntegritasStamp"; ValueType: string; ValueName: "Icon"; ValueData: """{app}\{#AppExe}"",0"
Root: HKA; Subkey: "Software\Classes\Directory\shell\IntegritasStamp\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" --stamp ""%1"""
Root: HKA; Subkey: "Software\Classes\Directory\shell\IntegritasVerify"; ValueType: string; ValueName: ""; ValueData: "Verify with Integritas"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Directory\shell\IntegritasVerify"; ValueType: string; ValueName: "Icon"; ValueData: """{app}\{#AppExe}"",0"
Root: HKA; Subkey: "Software\Classes\Directory\shell\IntegritasVerify\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" --verify ""%1"""
; "Start at login" (a setting in the app) writes HKCU\...\CurrentVersion\Run\Integritas Desktop;
; the uninstaller removes it too.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: none; ValueName: "Integritas Desktop"; Flags: uninsdeletevalue dontcreatekey

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only what the installer put there; history, receipts and settings in the user's folders stay.
Type: filesandordirs; Name: "{app}\_internal"
