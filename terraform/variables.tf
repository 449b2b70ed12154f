variable "prefix" {
  description = "Short name prefix for every resource (lowercase letters and digits)."
  type        = string
  default     = "vloc"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,11}$", var.prefix))
    error_message = "prefix must be 3-12 lowercase letters or digits, starting with a letter."
  }
}

variable "location" {
  description = "Azure region with NCasT4_v3 spot capacity."
  type        = string
  default     = "westeurope"

  validation {
    condition     = can(regex("^[a-z]+[a-z0-9]*$", var.location))
    error_message = "location must be an Azure region name such as westeurope."
  }
}

variable "gpu_node_count" {
  description = "Number of spot GPU nodes; the Dagster `gpu` pool limit should match it."
  type        = number
  default     = 1

  validation {
    condition     = var.gpu_node_count >= 0 && var.gpu_node_count <= 8 && floor(var.gpu_node_count) == var.gpu_node_count
    error_message = "gpu_node_count must be a whole number from 0 to 8."
  }
}

variable "gpu_vm_size" {
  description = "GPU node size (T4, as the article sizes it)."
  type        = string
  default     = "Standard_NC8as_T4_v3"

  validation {
    condition     = var.gpu_vm_size == "Standard_NC8as_T4_v3"
    error_message = "gpu_vm_size must be Standard_NC8as_T4_v3 (the engines are tuned for a T4)."
  }
}

variable "control_vm_size" {
  description = "Size of the control VM (webserver, daemon, cpu worker, RabbitMQ)."
  type        = string
  default     = "Standard_D4s_v5"

  validation {
    condition     = can(regex("^Standard_[A-Z]", var.control_vm_size))
    error_message = "control_vm_size must be an Azure VM size such as Standard_D4s_v5."
  }
}

variable "segment_cache_disk_gb" {
  description = "Size of each GPU node's segment-cache disk in GiB."
  type        = number
  default     = 256

  validation {
    condition     = var.segment_cache_disk_gb >= 64 && var.segment_cache_disk_gb <= 4096
    error_message = "segment_cache_disk_gb must be between 64 and 4096."
  }
}

variable "admin_ssh_public_key" {
  description = "Public key for break-glass SSH through Bastion (there is no public SSH)."
  type        = string

  validation {
    condition     = can(regex("^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256) ", var.admin_ssh_public_key))
    error_message = "admin_ssh_public_key must be an OpenSSH public key."
  }
}

variable "vnet_cidr" {
  description = "Address space of the virtual network."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vnet_cidr, 0))
    error_message = "vnet_cidr must be a CIDR block."
  }
}

variable "nightly_shutdown_time" {
  description = "HHMM (UTC) of the DevTest shutdown backstop for GPU nodes."
  type        = string
  default     = "2300"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3])[0-5][0-9]$", var.nightly_shutdown_time))
    error_message = "nightly_shutdown_time must be HHMM, 24-hour clock."
  }
}

variable "code_ref" {
  description = "Git ref of the application the nodes install (rolled out by `terraform apply`)."
  type        = string
  default     = "main"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]{1,100}$", var.code_ref))
    error_message = "code_ref must be a git branch, tag or commit."
  }
}

variable "repo_url" {
  description = "HTTPS URL of the application repository the nodes clone."
  type        = string
  default     = "https://github.com/example/video-localization.git"

  validation {
    condition     = startswith(var.repo_url, "https://")
    error_message = "repo_url must be an https:// URL."
  }
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = { workload = "video-localization" }
}

variable "translation_llm" {
  description = "The translation LLM vLLM serves on each GPU node (OpenAI-compatible): its weights directory under models/ on the segment-cache disk (copied there once; no hub download at boot), context length, port and share of GPU memory (the rest is the lip-sync engine's)."
  type = object({
    model                  = string
    max_model_len          = number
    port                   = number
    gpu_memory_utilization = number
  })
  default = {
    model                  = "Qwen3-8B-AWQ"
    max_model_len          = 8192
    port                   = 8000
    gpu_memory_utilization = 0.45
  }

  validation {
    condition = (
      can(regex("^[A-Za-z0-9._-]{1,100}$", var.translation_llm.model)) &&
      var.translation_llm.max_model_len >= 2048 &&
      var.translation_llm.gpu_memory_utilization > 0 &&
      var.translation_llm.gpu_memory_utilization < 0.9
    )
    error_message = "translation_llm: a plain directory name, max_model_len >= 2048, and a GPU memory share below 0.9 (the lip-sync engine needs the rest)."
  }
}

variable "tts_service" {
  description = "The voice-cloning TTS service on each GPU node, speaking the README's TTS contract (POST /synthesize): its port, the voice model name recorded with every cached line, and the command that serves it. Empty command: the repository's reference service (a CPU voice, pitch-matched; no cloning). Put an XTTS, F5-TTS or CosyVoice adapter's command here to clone voices."
  type = object({
    port    = number
    voice   = string
    command = string
  })
  default = {
    port    = 8020
    voice   = "reference-piper"
    command = ""
  }

  validation {
    condition = (
      var.tts_service.port > 1024 && var.tts_service.port < 65536 &&
      var.tts_service.port != var.translation_llm.port &&
      can(regex("^[A-Za-z0-9._-]{1,100}$", var.tts_service.voice))
    )
    error_message = "tts_service: an unprivileged port other than the LLM's, and a plain voice name."
  }
}
