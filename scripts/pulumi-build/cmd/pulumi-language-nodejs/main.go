// pulumi-language-nodejs: a minimal Node.js language host for the Pulumi engine, written for this project.
//
// Why it exists: the upstream language host (Go module
// github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not served by the Go module proxy that
// our machines reach, and get.pulumi.com / GitHub releases are unreachable. The engine (`pulumi`, built from
// github.com/pulumi/pulumi/pkg/v3) only needs a gRPC LanguageRuntime server; the actual work of running a
// TypeScript program is done by the `@pulumi/pulumi` npm package's own `cmd/run` entry point. This host does what
// the engine needs for `pulumi preview/up/destroy/refresh`:
//
//   - GetRequiredPlugins: lists the resource plugins declared by installed npm packages
//     (package.json `"pulumi": {"resource": true, ...}`), so the engine can load them from its plugin cache;
//   - Run: starts `node <@pulumi/pulumi>/cmd/run` with the monitor/engine addresses, the project settings and the
//     stack configuration (PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS), exactly the interface that script documents;
//   - GetPluginInfo and About (`pulumi about`); `pulumi-language-nodejs -version` prints the stamped version.
//
// Everything else (InstallDependencies, Template, GenerateProgram, RunPlugin, ...) answers Unimplemented: install
// npm dependencies yourself (`npm ci`) before running `pulumi`.
//
// Protocol: the engine starts this binary with its own gRPC address as the last argument; we listen on
// 127.0.0.1 (random port) and print the port on stdout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Version is stamped at build time (-ldflags "-X main.Version=3.x.y"): the Pulumi release this host pairs with.
var Version = "0.0.0-dev"

// Exit code with which @pulumi/pulumi's cmd/run says "the error has already been reported to the engine".
const exitCodeErrorAlreadyReported = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	tracing       string
}

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Println(Version)
		return
	}
	h := &host{}
	// The engine passes flags first (e.g. -tracing URL, -v=N, -logtostderr), its own address last.
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-tracing" || a == "--tracing":
			if i+1 < len(args) {
				h.tracing = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "-tracing=") || strings.HasPrefix(a, "--tracing="):
			h.tracing = a[strings.Index(a, "=")+1:]
		case strings.HasPrefix(a, "-"):
			// other logging flags: ignored
		default:
			h.engineAddress = a
		}
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start the gRPC server: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: gRPC server stopped: %v\n", err)
		os.Exit(1)
	}
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find node on the $PATH: %w", err)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("running %s --version: %w", node, err)
	}
	return &pulumirpc.AboutResponse{
		Executable: node,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "v"),
	}, nil
}

// programDir returns the directory of the program: ProgramInfo when the engine sends it, else the legacy fields.
func programDir(info *pulumirpc.ProgramInfo, pwd string) string {
	if info != nil && info.GetProgramDirectory() != "" {
		return info.GetProgramDirectory()
	}
	if pwd != "" {
		return pwd
	}
	wd, _ := os.Getwd()
	return wd
}

type packageJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Pulumi  struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

// findPluginPackages walks every node_modules directory from dir up to the filesystem root (Node's resolution
// order) and returns the npm packages that declare a Pulumi resource plugin. Nested node_modules are searched too.
func findPluginPackages(dir string) ([]*pulumirpc.PluginDependency, error) {
	seen := map[string]*pulumirpc.PluginDependency{}
	var walk func(nm string, depth int) error
	walk = func(nm string, depth int) error {
		if depth > 8 {
			return nil
		}
		entries, err := os.ReadDir(nm)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			pkgDirs := []string{filepath.Join(nm, name)}
			if strings.HasPrefix(name, "@") {
				scoped, err := os.ReadDir(filepath.Join(nm, name))
				if err != nil {
					continue
				}
				pkgDirs = pkgDirs[:0]
				for _, s := range scoped {
					pkgDirs = append(pkgDirs, filepath.Join(nm, name, s.Name()))
				}
			}
			for _, pd := range pkgDirs {
				if dep, err := pluginOf(filepath.Join(pd, "package.json")); err != nil {
					return err
				} else if dep != nil {
					key := dep.Name + "@" + dep.Version
					if _, ok := seen[key]; !ok {
						seen[key] = dep
					}
				}
				if err := walk(filepath.Join(pd, "node_modules"), depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for d := dir; ; d = filepath.Dir(d) {
		if err := walk(filepath.Join(d, "node_modules"), 0); err != nil {
			return nil, err
		}
		if parent := filepath.Dir(d); parent == d {
			break
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	deps := make([]*pulumirpc.PluginDependency, 0, len(keys))
	for _, k := range keys {
		deps = append(deps, seen[k])
	}
	return deps, nil
}

func pluginOf(path string) (*pulumirpc.PluginDependency, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var p packageJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	if !p.Pulumi.Resource {
		return nil, nil
	}
	name := p.Pulumi.Name
	if name == "" {
		name = strings.TrimPrefix(strings.TrimPrefix(p.Name, "@pulumi/"), "@")
	}
	version := p.Pulumi.Version
	if version == "" {
		version = p.Version
	}
	if name == "" || version == "" {
		return nil, fmt.Errorf("%s: pulumi resource package without name or version", path)
	}
	if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	return &pulumirpc.PluginDependency{Name: name, Kind: "resource", Version: version, Server: p.Pulumi.Server}, nil
}

func (h *host) GetRequiredPlugins(_ context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	deps, err := findPluginPackages(programDir(req.GetInfo(), req.GetPwd()))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: deps}, nil
}

// findRunScript resolves @pulumi/pulumi/cmd/run the way Node would from dir.
func findRunScript(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "node_modules", "@pulumi", "pulumi", "cmd", "run")
		if _, err := os.Stat(filepath.Join(p, "index.js")); err == nil {
			return p, nil
		}
		if parent := filepath.Dir(d); parent == d {
			break
		}
	}
	return "", fmt.Errorf("@pulumi/pulumi is not installed for %s: run `npm ci` (or npm install) first", dir)
}

func optionString(opts *structpb.Struct, key string) (string, bool) {
	if opts == nil {
		return "", false
	}
	v, ok := opts.GetFields()[key]
	if !ok {
		return "", false
	}
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return k.StringValue, true
	case *structpb.Value_BoolValue:
		return strconv.FormatBool(k.BoolValue), true
	}
	return "", false
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find node on the $PATH: %w", err)
	}
	info := req.GetInfo()
	dir := programDir(info, req.GetPwd())
	runScript, err := findRunScript(dir)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	var opts *structpb.Struct
	if info != nil {
		opts = info.GetOptions()
	}
	var args []string
	if nodeargs, ok := optionString(opts, "nodeargs"); ok && nodeargs != "" {
		args = append(args, strings.Fields(nodeargs)...)
	}
	args = append(args, runScript)
	add := func(flag, value string) {
		if value != "" {
			args = append(args, "--"+flag, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", dir)
	if info != nil {
		add("root-directory", info.GetRootDirectory())
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("tracing", h.tracing)
	program := req.GetProgram()
	if info != nil && info.GetEntryPoint() != "" {
		program = info.GetEntryPoint()
	}
	if program == "" {
		program = "."
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(),
		"PULUMI_CONFIG="+string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON),
	)
	typescript := true
	if v, ok := optionString(opts, "typescript"); ok {
		typescript = v != "false"
	}
	env = append(env, "PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(typescript))
	if tsconfig, ok := optionString(opts, "tsconfig"); ok && tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+tsconfig)
	}

	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code := exitErr.ExitCode()
			if status, ok := exitErr.Sys().(syscall.WaitStatus); ok && status.Signaled() {
				return &pulumirpc.RunResponse{Error: fmt.Sprintf("program killed by signal %v", status.Signal())}, nil
			}
			if code == exitCodeErrorAlreadyReported {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", code)}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run %s: %v", node, err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}
