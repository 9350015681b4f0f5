//! The Ignition config, as the newest spec (3.7.0-experimental) defines it.
//!
//! Every older spec version is a subset of these types: a field's `@ N` says from which
//! 3.N on it is accepted, so parsing an older config only gates keys and translating it
//! up is the identity. Only 3.0.0's references differ in shape (`before 1`, see
//! [`crate::v3_0`]). Field order is the JSON output order of Ignition's Go types.

use crate::ignition_type;

ignition_type! {
    /// A whole Ignition config.
    Config {
        /// Ignition's own settings: spec version, referenced configs, TLS, proxy, timeouts.
        #[serde(serialize_with = "crate::v3_0::serialize_ignition")]
        ignition: Ignition = "ignition" @ 0, before 1: crate::v3_0::Ignition;
        /// Kernel arguments that must or must not be present.
        kernel_arguments: KernelArguments = "kernelArguments" @ 3;
        /// Users and groups.
        passwd: Passwd = "passwd" @ 0;
        /// Disks, filesystems, files, directories and links.
        storage: Storage = "storage" @ 0;
        /// systemd units.
        systemd: Systemd = "systemd" @ 0;
    }
}

ignition_type! {
    /// Settings of Ignition itself.
    Ignition {
        /// Configs to merge into or replace this one.
        config: IgnitionConfig = "config" @ 0;
        /// HTTP(S) proxy for fetching resources.
        proxy: Proxy = "proxy" @ 1;
        /// TLS settings for fetching resources.
        security: Security = "security" @ 0;
        /// Fetch timeouts.
        timeouts: Timeouts = "timeouts" @ 0;
        /// The spec version of this config.
        version: String = "version" @ 0;
    }
}

ignition_type! {
    /// References to further configs.
    IgnitionConfig {
        /// Configs merged over this one, in order.
        merge: Vec<Resource> = "merge" @ 0;
        /// A config that replaces this one.
        replace: Resource = "replace" @ 0;
    }
}

ignition_type! {
    /// Proxy settings.
    Proxy {
        /// Proxy for HTTP requests.
        http_proxy: Option<String> = "httpProxy" @ 1;
        /// Proxy for HTTPS requests.
        https_proxy: Option<String> = "httpsProxy" @ 1;
        /// Hosts reached without the proxy.
        no_proxy: Vec<String> = "noProxy" @ 1;
    }
}

ignition_type! {
    /// Security settings.
    Security {
        /// TLS settings.
        tls: Tls = "tls" @ 0;
    }
}

ignition_type! {
    /// TLS settings.
    Tls {
        /// Extra certificate authorities to trust.
        certificate_authorities: Vec<Resource> = "certificateAuthorities" @ 0;
    }
}

ignition_type! {
    /// Fetch timeouts, in seconds.
    Timeouts {
        /// Time to wait for response headers.
        http_response_headers: Option<i64> = "httpResponseHeaders" @ 0;
        /// Total time for a fetch, retries included.
        http_total: Option<i64> = "httpTotal" @ 0;
    }
}

ignition_type! {
    /// Something to fetch: a URL, how it is compressed, how to verify it.
    Resource {
        /// Compression of the fetched data: empty or `gzip`.
        compression: Option<String> = "compression" @ 0;
        /// HTTP headers sent with the request.
        http_headers: Vec<HttpHeader> = "httpHeaders" @ 1;
        /// The URL.
        source: Option<String> = "source" @ 0;
        /// Expected hash of the (decompressed) data.
        verification: Verification = "verification" @ 0;
    }
}

ignition_type! {
    /// One HTTP header.
    HttpHeader {
        /// Header name.
        name: String = "name" @ 1;
        /// Header value; absent removes a header set by a parent config.
        value: Option<String> = "value" @ 1;
    }
}

ignition_type! {
    /// Verification of fetched data.
    Verification {
        /// `sha512-<hex>` or `sha256-<hex>`.
        hash: Option<String> = "hash" @ 0;
    }
}

ignition_type! {
    /// Kernel arguments.
    KernelArguments {
        /// Arguments that must be present.
        should_exist: Vec<String> = "shouldExist" @ 3;
        /// Arguments that must be absent.
        should_not_exist: Vec<String> = "shouldNotExist" @ 3;
    }
}

ignition_type! {
    /// Users and groups.
    Passwd {
        /// Groups to create or change.
        groups: Vec<PasswdGroup> = "groups" @ 0;
        /// Users to create or change.
        users: Vec<PasswdUser> = "users" @ 0;
    }
}

ignition_type! {
    /// A group account.
    PasswdGroup {
        /// Numeric group id.
        gid: Option<i64> = "gid" @ 0;
        /// Group name.
        name: String = "name" @ 0;
        /// Hashed group password.
        password_hash: Option<String> = "passwordHash" @ 0;
        /// Whether the group must exist (false deletes it).
        should_exist: Option<bool> = "shouldExist" @ 2;
        /// Whether it is a system group.
        system: Option<bool> = "system" @ 0;
    }
}

ignition_type! {
    /// A user account.
    PasswdUser {
        /// Comment field.
        gecos: Option<String> = "gecos" @ 0;
        /// Supplementary groups.
        groups: Vec<String> = "groups" @ 0;
        /// Home directory.
        home_dir: Option<String> = "homeDir" @ 0;
        /// User name.
        name: String = "name" @ 0;
        /// Do not create the home directory.
        no_create_home: Option<bool> = "noCreateHome" @ 0;
        /// Do not add the user to lastlog and faillog.
        no_log_init: Option<bool> = "noLogInit" @ 0;
        /// Do not create a group named after the user.
        no_user_group: Option<bool> = "noUserGroup" @ 0;
        /// Hashed password.
        password_hash: Option<String> = "passwordHash" @ 0;
        /// Primary group.
        primary_group: Option<String> = "primaryGroup" @ 0;
        /// SSH public keys allowed to log in.
        ssh_authorized_keys: Vec<String> = "sshAuthorizedKeys" @ 0;
        /// Login shell.
        shell: Option<String> = "shell" @ 0;
        /// Whether the user must exist (false deletes it).
        should_exist: Option<bool> = "shouldExist" @ 2;
        /// Whether it is a system account.
        system: Option<bool> = "system" @ 0;
        /// Numeric user id.
        uid: Option<i64> = "uid" @ 0;
    }
}

ignition_type! {
    /// Storage: block devices and the filesystem tree.
    Storage {
        /// Directories to create.
        directories: Vec<Directory> = "directories" @ 0;
        /// Disks to partition.
        disks: Vec<Disk> = "disks" @ 0;
        /// Files to write.
        files: Vec<File> = "files" @ 0;
        /// Filesystems to create and mount.
        filesystems: Vec<Filesystem> = "filesystems" @ 0;
        /// Links to create.
        links: Vec<Link> = "links" @ 0;
        /// LUKS volumes.
        luks: Vec<Luks> = "luks" @ 2;
        /// Software RAID arrays.
        raid: Vec<Raid> = "raid" @ 0;
    }
}

ignition_type! {
    /// Owner of a node, by id or by name.
    NodeUser {
        /// Numeric id.
        id: Option<i64> = "id" @ 0;
        /// Name, looked up in the target root.
        name: Option<String> = "name" @ 0;
    }
}

ignition_type! {
    /// Group of a node, by id or by name.
    NodeGroup {
        /// Numeric id.
        id: Option<i64> = "id" @ 0;
        /// Name, looked up in the target root.
        name: Option<String> = "name" @ 0;
    }
}

ignition_type! {
    /// A directory.
    Directory {
        /// Owning group.
        group: NodeGroup = "group" @ 0;
        /// Replace whatever is at the path.
        overwrite: Option<bool> = "overwrite" @ 0;
        /// Absolute path.
        path: String = "path" @ 0;
        /// Owning user.
        user: NodeUser = "user" @ 0;
        /// Permission bits, decimal.
        mode: Option<i64> = "mode" @ 0;
    }
}

ignition_type! {
    /// A regular file.
    File {
        /// Owning group.
        group: NodeGroup = "group" @ 0;
        /// Replace whatever is at the path.
        overwrite: Option<bool> = "overwrite" @ 0;
        /// Absolute path.
        path: String = "path" @ 0;
        /// Owning user.
        user: NodeUser = "user" @ 0;
        /// Fragments appended to the file.
        append: Vec<Resource> = "append" @ 0;
        /// The file's contents.
        contents: Resource = "contents" @ 0;
        /// Permission bits, decimal.
        mode: Option<i64> = "mode" @ 0;
    }
}

ignition_type! {
    /// A symbolic or hard link.
    Link {
        /// Owning group.
        group: NodeGroup = "group" @ 0;
        /// Replace whatever is at the path.
        overwrite: Option<bool> = "overwrite" @ 0;
        /// Absolute path.
        path: String = "path" @ 0;
        /// Owning user.
        user: NodeUser = "user" @ 0;
        /// Make a hard link instead of a symlink.
        hard: Option<bool> = "hard" @ 0;
        /// What the link points to.
        target: Option<String> = "target" @ 0;
    }
}

ignition_type! {
    /// A disk and its partition table.
    Disk {
        /// The block device.
        device: String = "device" @ 0;
        /// Partitions.
        partitions: Vec<Partition> = "partitions" @ 0;
        /// Wipe the partition table first.
        wipe_table: Option<bool> = "wipeTable" @ 0;
    }
}

ignition_type! {
    /// A GPT partition.
    Partition {
        /// Partition GUID.
        guid: Option<String> = "guid" @ 0;
        /// Partition label.
        label: Option<String> = "label" @ 0;
        /// Partition number; 0 means the next free one.
        number: i64 = "number" @ 0;
        /// Grow an existing partition to the given size.
        resize: Option<bool> = "resize" @ 2;
        /// Whether the partition must exist.
        should_exist: Option<bool> = "shouldExist" @ 0;
        /// Size in MiB; 0 fills the free space.
        size_mib: Option<i64> = "sizeMiB" @ 0;
        /// Start in MiB; 0 is the first free place.
        start_mib: Option<i64> = "startMiB" @ 0;
        /// Partition type GUID.
        type_guid: Option<String> = "typeGuid" @ 0;
        /// Wipe the partition entry if it does not match.
        wipe_partition_entry: Option<bool> = "wipePartitionEntry" @ 0;
    }
}

ignition_type! {
    /// A filesystem.
    Filesystem {
        /// The block device.
        device: String = "device" @ 0;
        /// ext4, btrfs, xfs, vfat, swap or none.
        format: Option<String> = "format" @ 0;
        /// Filesystem label.
        label: Option<String> = "label" @ 0;
        /// Mount options.
        mount_options: Vec<String> = "mountOptions" @ 1;
        /// mkfs options.
        options: Vec<String> = "options" @ 0;
        /// Where Ignition mounts it while provisioning.
        path: Option<String> = "path" @ 0;
        /// Filesystem UUID.
        uuid: Option<String> = "uuid" @ 0;
        /// Wipe an existing filesystem.
        wipe_filesystem: Option<bool> = "wipeFilesystem" @ 0;
    }
}

ignition_type! {
    /// A LUKS encrypted volume.
    Luks {
        /// IBM Crypto Express card binding.
        cex: Cex = "cex" @ 5;
        /// Clevis binding.
        clevis: Clevis = "clevis" @ 2;
        /// The block device.
        device: Option<String> = "device" @ 2;
        /// Allow discards.
        discard: Option<bool> = "discard" @ 4;
        /// Key file.
        key_file: Resource = "keyFile" @ 2;
        /// LUKS label.
        label: Option<String> = "label" @ 2;
        /// Device-mapper name.
        name: String = "name" @ 2;
        /// Options for opening.
        open_options: Vec<String> = "openOptions" @ 4;
        /// luksFormat options.
        options: Vec<String> = "options" @ 2;
        /// LUKS UUID.
        uuid: Option<String> = "uuid" @ 2;
        /// Wipe an existing volume.
        wipe_volume: Option<bool> = "wipeVolume" @ 2;
    }
}

ignition_type! {
    /// Clevis binding of a LUKS volume.
    Clevis {
        /// A custom pin.
        custom: ClevisCustom = "custom" @ 2;
        /// Tang servers.
        tang: Vec<Tang> = "tang" @ 2;
        /// How many pins must unlock.
        threshold: Option<i64> = "threshold" @ 2;
        /// Bind to the TPM2.
        tpm2: Option<bool> = "tpm2" @ 2;
    }
}

ignition_type! {
    /// A custom Clevis pin.
    ClevisCustom {
        /// The pin's JSON config.
        config: Option<String> = "config" @ 2;
        /// Whether the pin needs the network.
        needs_network: Option<bool> = "needsNetwork" @ 2;
        /// Pin name.
        pin: Option<String> = "pin" @ 2;
    }
}

ignition_type! {
    /// A Tang server.
    Tang {
        /// The server's advertisement, for offline provisioning.
        advertisement: Option<String> = "advertisement" @ 4;
        /// Key thumbprint.
        thumbprint: Option<String> = "thumbprint" @ 2;
        /// Server URL.
        url: String = "url" @ 2;
    }
}

ignition_type! {
    /// IBM Crypto Express binding.
    Cex {
        /// Use a CEX card.
        enabled: Option<bool> = "enabled" @ 5;
    }
}

ignition_type! {
    /// A software RAID array.
    Raid {
        /// Member devices.
        devices: Vec<String> = "devices" @ 0;
        /// RAID level.
        level: Option<String> = "level" @ 0;
        /// Array name.
        name: String = "name" @ 0;
        /// mdadm options.
        options: Vec<String> = "options" @ 0;
        /// Number of spares.
        spares: Option<i64> = "spares" @ 0;
    }
}

ignition_type! {
    /// systemd settings.
    Systemd {
        /// Units.
        units: Vec<Unit> = "units" @ 0;
    }
}

ignition_type! {
    /// A systemd unit.
    Unit {
        /// Unit file contents.
        contents: Option<String> = "contents" @ 0;
        /// Drop-ins.
        dropins: Vec<Dropin> = "dropins" @ 0;
        /// Enable or disable via presets.
        enabled: Option<bool> = "enabled" @ 0;
        /// Mask the unit.
        mask: Option<bool> = "mask" @ 0;
        /// Unit name.
        name: String = "name" @ 0;
    }
}

ignition_type! {
    /// A systemd drop-in.
    Dropin {
        /// Drop-in contents.
        contents: Option<String> = "contents" @ 0;
        /// Drop-in file name.
        name: String = "name" @ 0;
    }
}
