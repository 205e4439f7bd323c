# Installed by Ansible (roles/r). Installs R packages and fails (exit 1) unless every one of them loads
# afterwards: install.packages() only warns when a package fails to build.
#
#   Rscript --vanilla install-r-packages.R cran   <lib> <repo>         <pkg>...
#   Rscript --vanilla install-r-packages.R bioc   <lib> <bioc-version> <pkg>...
#   Rscript --vanilla install-r-packages.R github <lib> ""             <owner/repo@ref> <pkg-name>
args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 4) stop("usage: install-r-packages.R cran|bioc|github <lib> <repo|version|''> <pkg>...")
kind <- args[1]; lib <- args[2]; where <- args[3]; pkgs <- args[-(1:3)]
dir.create(lib, recursive = TRUE, showWarnings = FALSE)
.libPaths(c(lib, .libPaths()))
options(warn = 1, Ncpus = max(1L, parallel::detectCores()))
if (kind == "cran") {
  install.packages(pkgs, lib = lib, repos = where)
  check <- pkgs
} else if (kind == "bioc") {
  if (nzchar(where)) {
    BiocManager::install(pkgs, lib = lib, version = where, ask = FALSE, update = FALSE)
  } else {
    BiocManager::install(pkgs, lib = lib, ask = FALSE, update = FALSE)
  }
  check <- pkgs
} else if (kind == "github") {
  remotes::install_github(pkgs[1], lib = lib, upgrade = "never", dependencies = TRUE)
  check <- pkgs[2]
} else {
  stop("unknown kind: ", kind)
}
missing <- check[!vapply(check, requireNamespace, logical(1), quietly = TRUE)]
if (length(missing) > 0) {
  message("R packages failed to install: ", paste(missing, collapse = ", "))
  quit(status = 1)
}
message("installed: ", paste(check, collapse = ", "))
